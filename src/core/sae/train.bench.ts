/**
 * SAE training speed against PyTorch: steps per second of our trainer and of a
 * PyTorch trainer of the same standard ReLU SAE, batch and optimiser
 * (python/sae_reference_trainer.py, Debian's PyTorch, two threads,
 * OMP_WAIT_POLICY=PASSIVE; the faster of its autograd and hand-written steps),
 * with the achieved GFLOP/s beside the machine's single-matrix-product rate: a
 * float32 [1024 x 1024] x [1024 x 1024] product in onnxruntime (a MatMul session
 * with the trainer's options), torch and numpy, the best of the three.
 *
 * Every size runs in rounds, each timing our trainer, both PyTorch steps and the
 * product once, in a rotating order, and the medians over the rounds are
 * compared: on a shared machine the load changes from second to second, so the
 * product's rate that a trainer's is set against is the one measured beside it.
 * The best single product, the machine's peak, is reported too.
 *
 * FLOPs per training step, counting the five matrix products (2 m k n each) and
 * not the elementwise work, which is O(B d_sae + d_in d_sae) and memory-bound:
 *   forward   pre = (x - b_dec) W_enc          2 B d_in d_sae
 *             x_hat = f W_dec                   2 B d_sae d_in
 *   backward  dL/dW_dec = f^T G                 2 B d_sae d_in
 *             dL/df = G W_dec^T                 2 B d_in d_sae
 *             dL/dW_enc = input^T dL/dpre       2 B d_in d_sae
 * so 10 B d_in d_sae: the backward pass is 1.5x the forward, not 2x, because no
 * gradient flows to the data (b_dec's input term is a matrix-vector product).
 * PyTorch's autograd also forms dL/dinput (one more product) to reach b_dec
 * through x - b_dec; its rate is still counted on the same 10 B d_in d_sae.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import * as ort from 'onnxruntime-node';
import type { BenchReport } from '../../../bench/report';
import { DataType, encodeModel, GraphBuilder, modelProto } from '../onnx/builder';
import { Rng } from '../random';
import { resolveTrainOptions } from './options';
import { SaeTrainer, TRAINER_SESSION_OPTIONS } from './train';

const REPO = join(__dirname, '..', '..', '..');
const REFERENCE_SCRIPT = join(REPO, 'python', 'sae_reference_trainer.py');
const PYTHON = '/usr/bin/python3';
const THREADS = 2;

const SIZES = [
  { dIn: 64, dSae: 512, batch: 1024 },
  { dIn: 128, dSae: 1024, batch: 1024 },
  { dIn: 256, dSae: 2048, batch: 2048 },
  { dIn: 512, dSae: 4096, batch: 1024 },
];
/** Rounds per size; each round times our trainer, both PyTorch variants and the matrix product once, in a rotating order. */
const ROUNDS = 5;
/** Each trainer timing covers about this many seconds (at an assumed 100 GFLOP/s). */
const SECONDS_PER_TIMING = 0.8;
/** Each matrix-product timing repeats the product for this long. */
const MATMUL_SECONDS = 0.25;
const MATMUL_SIZE = 1024;
const PYTORCH_MODES = ['autograd', 'manual'] as const;

/** FLOPs of one training step's matrix products (see the file comment). */
export function trainingStepFlops(batch: number, dIn: number, dSae: number): number {
  return 10 * batch * dIn * dSae;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

type Reply = Record<string, number | string>;

/** The PyTorch reference as a server: one JSON request per line in, one JSON reply per line out. */
class Reference {
  private readonly waiting: { resolve: (reply: Reply) => void; reject: (err: Error) => void }[] = [];
  private exit: string | null = null;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const reply = JSON.parse(line) as Reply;
      const waiter = this.waiting.shift();
      if (typeof reply.error === 'string') waiter?.reject(new Error(`PyTorch reference: ${reply.error}`));
      else waiter?.resolve(reply);
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const stop = (why: string) => {
      this.exit = `the PyTorch reference ${why}${stderr.trim() ? `: ${stderr.trim().split('\n').at(-1)}` : ''}`;
      for (const w of this.waiting.splice(0)) w.reject(new Error(this.exit));
    };
    child.on('error', (err) => stop(`could not start (${err.message})`));
    child.on('exit', (code) => stop(`exited with code ${code}`));
  }

  /** Starts the reference, or returns why it cannot run here. */
  static async start(): Promise<Reference | string> {
    if (!existsSync(PYTHON)) return `${PYTHON} not found`;
    const child = spawn(PYTHON, [REFERENCE_SCRIPT, '--serve', '--threads', String(THREADS)], {
      env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE', OMP_NUM_THREADS: String(THREADS) },
    });
    const ref = new Reference(child);
    try {
      await ref.request({ matmul: 64, seconds: 0 });
      return ref;
    } catch (err) {
      return (err as Error).message;
    }
  }

  request(body: Record<string, unknown>): Promise<Reply> {
    if (this.exit) return Promise.reject(new Error(this.exit));
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.child.stdin.write(`${JSON.stringify(body)}\n`);
    });
  }

  stop(): void {
    this.child.stdin.end();
  }
}

/** Matrix-product rates in GFLOP/s: the best single product and the mean over a timing, per library. */
interface MatmulRates {
  best: Record<string, number>;
  mean: Record<string, number>;
}

/** A float32 [n x n] x [n x n] MatMul in an onnxruntime session with the trainer's options. */
async function onnxMatmul(n: number): Promise<{ rates: (seconds: number) => Promise<MatmulRates>; release: () => Promise<void> }> {
  const b = new GraphBuilder();
  b.input('a', DataType.FLOAT, [n, n]);
  b.input('b', DataType.FLOAT, [n, n]);
  b.output(b.op('MatMul', ['a', 'b'], {}, 'c'), DataType.FLOAT, [n, n]);
  const session = await ort.InferenceSession.create(encodeModel(modelProto(b.toGraph('matmul'))), { ...TRAINER_SESSION_OPTIONS, executionProviders: ['cpu'] });
  const rng = Rng.fromSeed(3);
  const random = () => new ort.Tensor('float32', Float32Array.from({ length: n * n }, () => rng.normal()), [n, n]);
  const feeds = { a: random(), b: random() };
  await session.run(feeds);
  const flops = 2 * n ** 3;
  return {
    rates: async (seconds) => {
      const times: number[] = [];
      const start = performance.now();
      while (times.length === 0 || performance.now() - start < seconds * 1000) {
        const t0 = performance.now();
        await session.run(feeds);
        times.push((performance.now() - t0) / 1000);
      }
      const total = times.reduce((a, t) => a + t, 0);
      return { best: { onnxruntime: flops / Math.min(...times) / 1e9 }, mean: { onnxruntime: (flops * times.length) / total / 1e9 } };
    },
    release: () => session.release(),
  };
}

/** Our trainer at one size, fed `steps` batches (a whole number of session calls) per timing. */
async function ourTrainer(dIn: number, dSae: number, batch: number) {
  const options = resolveTrainOptions({ dSae, batchSize: batch }, dIn);
  const rng = Rng.fromSeed(1);
  const batches = Array.from({ length: 4 }, () => Float32Array.from({ length: batch * dIn }, () => rng.normal()));
  const trainer = await SaeTrainer.create(options, dIn, batches[0], 1_000_000);
  const k = options.stepsPerRun;
  const estimate = trainingStepFlops(batch, dIn, dSae) / 100e9;
  const steps = k * Math.max(1, Math.round(SECONDS_PER_TIMING / estimate / k));
  let fed = 0;
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) await trainer.push(batches[fed++ % batches.length]);
  };
  await run(k);
  return {
    steps,
    stepsPerRun: k,
    /** Steps per second over one timing. */
    time: async () => {
      const t0 = performance.now();
      await run(steps);
      return steps / ((performance.now() - t0) / 1000);
    },
  };
}

const fixed = (x: number, digits = 1) => x.toFixed(digits);

export default async function bench(log: (line: string) => void): Promise<BenchReport> {
  const reference = await Reference.start();
  const torch = typeof reference === 'string' ? null : reference;
  if (!torch) log(`no PyTorch reference: ${reference as string}`);
  const onnx = await onnxMatmul(MATMUL_SIZE);
  const peak: Record<string, number> = {};
  /** One timing of the matrix product in every library, its best product folded into `peak`. */
  const matmulRate = async (): Promise<number> => {
    const r = await onnx.rates(MATMUL_SECONDS);
    if (torch) {
      const t = await torch.request({ matmul: MATMUL_SIZE, seconds: MATMUL_SECONDS });
      Object.assign(r.best, { torch: t.torch_gflops, numpy: t.numpy_gflops });
      Object.assign(r.mean, { torch: t.torch_mean_gflops, numpy: t.numpy_mean_gflops });
    }
    for (const [lib, rate] of Object.entries(r.best)) peak[lib] = Math.max(peak[lib] ?? 0, rate);
    return Math.max(...Object.values(r.mean));
  };

  const rows: BenchReport['rows'] = [];
  for (const { dIn, dSae, batch } of SIZES) {
    const ours = await ourTrainer(dIn, dSae, batch);
    const variants: [string, () => Promise<number>][] = [
      ['ours', ours.time],
      ['matmul', matmulRate],
    ];
    if (torch) {
      for (const mode of PYTORCH_MODES) {
        const request = { d_in: dIn, d_sae: dSae, batch, steps: ours.steps, mode };
        await torch.request({ ...request, steps: 1 });
        variants.push([`torch_${mode}`, async () => (await torch.request(request)).steps_per_s as number]);
      }
    }
    const rates = new Map<string, number[]>(variants.map(([name]) => [name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < variants.length; i++) {
        const [name, time] = variants[(i + round) % variants.length];
        rates.get(name)!.push(await time());
      }
    }
    const med = Object.fromEntries([...rates].map(([name, r]) => [name, median(r)]));
    const flops = trainingStepFlops(batch, dIn, dSae);
    const gflops = (flops * med.ours) / 1e9;
    const row: BenchReport['rows'][number] = {
      d_in: dIn,
      d_sae: dSae,
      batch,
      steps_per_timing: ours.steps,
      steps_per_run: ours.stepsPerRun,
      ours_steps_per_s: med.ours,
      ours_gflops: gflops,
      matmul_gflops: med.matmul,
      fraction_of_matmul: gflops / med.matmul,
    };
    let line = `(d_in ${dIn}, d_sae ${dSae}, batch ${batch}): ours ${fixed(med.ours, 2)} steps/s, ${fixed(gflops)} GFLOP/s`;
    if (torch) {
      const best = PYTORCH_MODES.reduce((a, b) => (med[`torch_${a}`] >= med[`torch_${b}`] ? a : b));
      const ref = med[`torch_${best}`];
      for (const mode of PYTORCH_MODES) row[`torch_${mode}_steps_per_s`] = med[`torch_${mode}`];
      Object.assign(row, { reference: `torch_${best}`, torch_gflops: (flops * ref) / 1e9, ratio: med.ours / ref });
      line += `; PyTorch ${fixed(ref, 2)} steps/s (${PYTORCH_MODES.map((m) => `${m} ${fixed(med[`torch_${m}`], 2)}`).join(', ')}): ratio ${fixed(med.ours / ref, 2)}`;
    }
    log(`${line}; matrix product ${fixed(med.matmul)} GFLOP/s, so ${fixed(100 * (gflops / med.matmul), 0)}% of it`);
    rows.push(row);
  }
  torch?.stop();
  await onnx.release();
  const machinePeak = Math.max(...Object.values(peak));
  for (const row of rows) Object.assign(row, { peak_matmul_gflops: machinePeak, fraction_of_peak: (row.ours_gflops as number) / machinePeak });

  const summary = rows.map((row) => {
    const size = `(${row.d_in}, ${row.d_sae}, ${row.batch})`;
    const vsTorch = row.ratio === undefined ? '' : `${fixed(row.ratio as number, 2)}x PyTorch (${row.reference}), `;
    return (
      `SAE training ${size}: ${vsTorch}${fixed(row.ours_gflops as number)} GFLOP/s = ${fixed(100 * (row.fraction_of_matmul as number), 0)}% of the ` +
      `matrix-product rate measured beside it (${fixed(row.matmul_gflops as number)}), ${fixed(100 * (row.fraction_of_peak as number), 0)}% of the best single product`
    );
  });
  const peaks = Object.entries(peak).map(([lib, rate]) => `${lib} ${fixed(rate)}`).join(', ');
  summary.push(
    `matrix product [${MATMUL_SIZE}x${MATMUL_SIZE}]x[${MATMUL_SIZE}x${MATMUL_SIZE}] float32, best single product: ${peaks} GFLOP/s; ` +
      `the rate beside each size is the best library's mean over ${MATMUL_SECONDS} s, median over the rounds` +
      (torch ? '' : `; no PyTorch reference: ${reference as string}`),
  );
  return { name: 'sae training against PyTorch', rows, summary };
}
