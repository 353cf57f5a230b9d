/**
 * Types for fmin (benfred/fmin), which ships none. The package is imported as
 * 'fmin/index.js', its ES module source: the bare 'fmin' resolves to a UMD build
 * inside a "type": "module" package, which bundlers read as having no exports.
 */
declare module 'fmin/index.js' {
  /** A point of the search with its function value attached, as fmin returns it. */
  export type Point = number[] & { fx?: number };

  export interface NelderMeadOptions {
    /** Default 200 x the dimension. */
    maxIterations?: number;
    /** Initial simplex: each non-zero coordinate is multiplied by this (default 1.05). */
    nonZeroDelta?: number;
    /** Initial simplex: each zero coordinate is set to this (default 0.001). */
    zeroDelta?: number;
    /** Stop when the simplex's function values and coordinates both differ by less than this (default 1e-6). */
    minErrorDelta?: number;
    /** Reflection, expansion, contraction and shrink coefficients (defaults 1, 2, -0.5, 0.5); sigma >= 1 stops instead of shrinking. */
    rho?: number;
    chi?: number;
    psi?: number;
    sigma?: number;
    history?: unknown[];
  }

  export interface Minimum {
    fx: number;
    x: Point;
  }

  export function nelderMead(f: (x: number[]) => number, x0: number[], options?: NelderMeadOptions): Minimum;

  export interface ConjugateGradientOptions {
    maxIterations?: number;
    history?: unknown[];
  }

  /** f returns the value at x and writes the gradient into fxprime. */
  export function conjugateGradient(
    f: (x: number[], fxprime: number[]) => number,
    x0: number[],
    options?: ConjugateGradientOptions,
  ): { fx: number; x: number[]; fxprime: number[] };

  export function gradientDescent(
    f: (x: number[], fxprime: number[]) => number,
    x0: number[],
    options?: { maxIterations?: number; learnRate?: number; history?: unknown[] },
  ): { fx: number; x: number[]; fxprime: number[] };

  export function bisect(f: (x: number) => number, a: number, b: number, options?: { maxIterations?: number; tolerance?: number }): number;
}
