import { expect } from 'chai';
import { parsePrometheusText, sampleValue } from '../../helpers/metrics-text.js';

describe('the Prometheus text reader the metrics tests rely on', () => {
  const good = [
    '# HELP jobs_total Jobs.',
    '# TYPE jobs_total counter',
    'jobs_total{status="ok",kind="a \\"b\\""} 3',
    '# HELP lag Lag.',
    '# TYPE lag gauge',
    'lag Nan',
    '# TYPE d histogram',
    'd_bucket{le="0.1"} 1',
    'd_bucket{le="+Inf"} 2',
    'd_sum 0.3',
    'd_count 2',
    '',
  ].join('\n');

  it('reads families, labels (with escapes) and special values', () => {
    const families = parsePrometheusText(good);
    expect(sampleValue(families, 'jobs_total', { status: 'ok', kind: 'a "b"' })).to.equal(3);
    expect(Number.isNaN(sampleValue(families, 'lag'))).to.equal(true);
    expect(families.get('d')?.type).to.equal('histogram');
    expect(sampleValue(families, 'd_count')).to.equal(2);
  });

  const broken: Array<[string, string]> = [
    ['a sample without its TYPE', 'x 1\n'],
    ['a bad value', '# TYPE x gauge\nx one\n'],
    ['a bad label', '# TYPE x gauge\nx{1a="b"} 1\n'],
    ['unquoted label values', '# TYPE x gauge\nx{a=b} 1\n'],
    ['a family twice', '# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\n# TYPE x gauge\n'],
    ['no final newline', '# TYPE x gauge\nx 1'],
    ['buckets that do not add up', '# TYPE d histogram\nd_bucket{le="1"} 2\nd_bucket{le="+Inf"} 1\nd_sum 1\nd_count 1\n'],
    ['no +Inf bucket', '# TYPE d histogram\nd_bucket{le="1"} 1\nd_sum 1\nd_count 1\n'],
  ];
  for (const [what, text] of broken) {
    it(`refuses ${what}`, () => {
      expect(() => parsePrometheusText(text)).to.throw();
    });
  }
});
