import { createContext, useContext } from 'react';
import { theme, type Theme } from './theme.js';

/** The live view's styles, set once by `renderJobView`; no colour unless it says so. */
export const ThemeContext = createContext<Theme>(theme(false));

export const useTheme = (): Theme => useContext(ThemeContext);
