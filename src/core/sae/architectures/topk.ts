import { ConfigError } from '../../config';
import { tiedInit } from './init';
import { CORE_PARAMS, DECODER_T, type SaeArchitecture } from './types';

export interface TopKConfig {
  /** Latents kept active per input. */
  k: number;
}

/**
 * The TopK SAE of Gao et al. (2024): f = scatter(TopK(pre, k)) through a ReLU,
 * x_hat = f W_dec + b_dec, L = (1/B) sum_b ||x_b - x_hat_b||^2 + AuxK.
 *
 * AuxK keeps latents from dying: the k_aux largest pre-activations among dead
 * latents (not fired for `deadSteps` steps) reconstruct the main model's
 * residual r = x - x_hat, held constant (a stop-gradient), without b_dec:
 *   L_aux = alpha * min(n_dead / k_aux, 1) * (1/B) sum_b ||f_aux,b W_dec - r_b||^2,
 * alpha = 1/32 as in the paper; the scale shrinks the loss while few are dead (as SAELens does).
 *
 * Decoder rows are held at unit norm: the L2 loss has no scale to exploit, but
 * without the constraint encoder and decoder could trade scale freely, and Adam's
 * per-coordinate steps would then depend on an arbitrary split.
 *
 * Backward pass: TopK and the dead mask are piecewise constant, so the gradient
 * flows only through the selected entries; with G = (2/B) e, G_a = (2 alpha s / B) e_aux,
 * for the transposed decoder D = W_dec^T the training graph holds:
 *   dL/dD     = G^T f + G_a^T f_aux,   dL/db_dec = sum_b G_b
 *   dL/dpre   = (G D) * 1[f > 0] + (G_a D) * 1[f_aux > 0]
 *   dL/dW_enc = input^T dL/dpre,       dL/db_enc = sum_b dL/dpre_b.
 */
export const topk: SaeArchitecture<TopKConfig> = {
  name: 'topk',
  params: CORE_PARAMS,
  readConfig(cfg, dSae) {
    // SAELens 6 writes k at the top level; earlier versions under activation_fn_kwargs.
    const kwargs = cfg.activation_fn_kwargs as Record<string, unknown> | undefined;
    const k = cfg.k ?? kwargs?.k;
    if (k === undefined) throw new ConfigError('k', k, 'a topk SAE needs k (in cfg.json as "k" or activation_fn_kwargs.k)');
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > dSae) {
      throw new ConfigError('k', k, `an integer in [1, d_sae = ${dSae}]`);
    }
    return { k };
  },
  writeConfig: ({ k }) => ({ k, activation_fn_str: 'topk', activation_fn_kwargs: { k } }),
  encode({ ops, input, params }, { k }) {
    const pre = ops.gemm(input, params.W_enc, { bias: params.b_enc });
    const [values, indices] = ops.topk(pre, k);
    return { pre, acts: ops.scatterRows(pre, indices, ops.relu(values)) };
  },
  training: {
    coefficients: [],
    unitNormDecoder: true,
    init: (rng, dIn, dSae) => tiedInit(rng, dIn, dSae, 1),
    step(ctx, config, settings) {
      const { ops, x, input, params, invBatch } = ctx;
      const decoderT = params[DECODER_T];
      const { pre, acts } = topk.encode(ctx, config);
      const xHat = ops.gemm(acts, decoderT, { transB: true, bias: params.b_dec });
      const err = ops.sub(xHat, x);
      const mse = ops.mul(ops.sumAll(ops.mul(err, err)), invBatch);

      const g = ops.mul(err, ops.mul(ops.scalar(2), invBatch));
      const gradDecoderTMain = ops.gemm(ops.transpose(g), acts);
      const gradPreMain = ops.mul(ops.gemm(g, decoderT), ops.positive(acts));
      const liveResidual = ops.neg(err);
      const residual = ctx.frozen?.auxResidual ?? liveResidual;

      // AuxK costs three more matrix products; while no latent is dead it is zero, so an If skips it.
      const dead = ops.b.op('GreaterOrEqual', [ctx.stepsSinceFired, ops.scalar(settings.deadSteps)]);
      const deadCount = ops.sumAll(ops.cast(dead, ops.type));
      const [aux, gradDecoderT, gradPre] = ops.ifElse(
        ops.b.op('Greater', [deadCount, ops.scalar(0)]),
        (o) => {
          const deadPre = o.b.op('Where', [dead, pre, o.scalar(-Infinity)]);
          const [auxValues, auxIndices] = o.topk(deadPre, settings.kAux);
          const auxActs = o.scatterRows(pre, auxIndices, o.relu(auxValues));
          const scale = o.b.op('Min', [o.div(deadCount, o.scalar(settings.kAux)), o.scalar(1)]);
          const auxErr = o.sub(o.gemm(auxActs, decoderT, { transB: true }), residual);
          const auxWeight = o.mul(o.mul(o.scalar(settings.auxKCoefficient), scale), invBatch);
          const gAux = o.mul(auxErr, o.mul(o.scalar(2), auxWeight));
          return [
            o.mul(o.sumAll(o.mul(auxErr, auxErr)), auxWeight),
            o.add(gradDecoderTMain, o.gemm(o.transpose(gAux), auxActs)),
            o.add(gradPreMain, o.mul(o.gemm(gAux, decoderT), o.positive(auxActs))),
          ];
        },
        (o) => [o.scalar(0), gradDecoderTMain, gradPreMain],
      );
      const loss = ops.add(mse, aux);
      const gradBdec = ops.sum(g, 0);
      const gradWenc = ops.gemm(ops.transpose(input), gradPre);
      const gradBenc = ops.sum(gradPre, 0);
      return {
        acts,
        loss,
        parts: { mse, aux },
        grads: { W_enc: gradWenc, b_enc: gradBenc, [DECODER_T]: gradDecoderT, b_dec: gradBdec },
        detached: { auxResidual: liveResidual },
      };
    },
  },
};
