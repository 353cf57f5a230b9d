import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

/** The serialisable state of an {@link Rng}: enough to resume the exact stream. */
export interface RngState {
  algorithm: 'xoroshiro128plus';
  state: number[];
}

/**
 * A seeded random stream (xoroshiro128+ from pure-rand). Every random draw in
 * src/core goes through one of these, so a seed fixes a whole experiment and a
 * saved state resumes it exactly.
 */
export class Rng {
  private constructor(private readonly gen: JumpableRandomGenerator) {}

  static fromSeed(seed: number): Rng {
    if (!Number.isInteger(seed)) {
      throw new RangeError(`seed must be an integer, got ${seed}`);
    }
    return new Rng(xoroshiro128plus(seed | 0));
  }

  static fromState(saved: RngState): Rng {
    if (saved?.algorithm !== 'xoroshiro128plus' || !Array.isArray(saved.state)) {
      throw new TypeError(`rng state must be {algorithm: 'xoroshiro128plus', state: number[]}`);
    }
    return new Rng(xoroshiro128plusFromState(saved.state));
  }

  toJSON(): RngState {
    return { algorithm: 'xoroshiro128plus', state: [...this.gen.getState()] };
  }

  /** An independent copy that continues the same stream. */
  clone(): Rng {
    return Rng.fromState(this.toJSON());
  }

  /**
   * A new stream derived from this one; the parent advances by one draw. Used to
   * give each experiment of a batch its own stream from one master seed.
   */
  fork(): Rng {
    return Rng.fromSeed(this.int(0, 0x7fffffff));
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return uniformFloat64(this.gen);
  }

  /** Uniform integer in [lo, hi), hi exclusive. */
  int(lo: number, hi: number): number {
    if (!(hi > lo)) throw new RangeError(`empty integer range [${lo}, ${hi})`);
    return uniformInt(this.gen, lo, hi - 1);
  }

  bernoulli(p: number): boolean {
    return this.uniform() < p;
  }

  /** Standard normal draw (Box-Muller; one draw consumed per pair of uniforms). */
  normal(mean = 0, sd = 1): number {
    let u = this.uniform();
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Index drawn from a discrete distribution given by non-negative weights. */
  categorical(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) total += weights[i];
    if (!(total > 0)) throw new RangeError('categorical weights must have a positive sum');
    let u = this.uniform() * total;
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i];
      if (u < 0) return i;
    }
    return weights.length - 1;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length)];
  }

  /** A shuffled copy (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }
}
