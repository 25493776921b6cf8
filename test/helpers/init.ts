// Loaded once by .mocharc.json: a predictable terminal and no colour for every test.
process.env.NO_COLOR = '1';
process.env.COLUMNS = '120';
process.env.FORCE_COLOR = '0';
