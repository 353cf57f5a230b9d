import { tiedInit } from './init';
import { CORE_PARAMS, DECODER_T, type SaeArchitecture } from './types';

/**
 * The standard ReLU SAE, trained as in Anthropic's April 2024 update (the kind
 * the paper used):
 *
 *   f = ReLU(input W_enc + b_enc),  x_hat = f W_dec + b_dec,
 *   L = (1/B) sum_b ||x_b - x_hat_b||^2 + lambda (1/B) sum_b sum_i f_bi ||W_dec,i||.
 *
 * Decoder rows are not constrained: their norms are inside the penalty, so
 * shrinking f by growing W_dec gains nothing, and the penalty is on the size of
 * each latent's contribution to x_hat rather than on f alone.
 *
 * Backward pass, with e = x_hat - x, G = (2/B) e, r_i = ||W_dec,i||, s_i = sum_b f_bi,
 * written for the transposed decoder D = W_dec^T the training graph holds:
 *   dL/dD     = G^T f + (lambda/B) D diag(s_i / r_i)
 *   dL/db_dec = sum_b G_b                              (decoder term)
 *   dL/df     = G D + (lambda/B) r                     (r broadcast over rows)
 *   dL/dpre   = dL/df * 1[pre > 0]
 *   dL/dW_enc = input^T dL/dpre,   dL/db_enc = sum_b dL/dpre_b.
 */
export const standard: SaeArchitecture<Record<string, never>> = {
  name: 'standard',
  params: CORE_PARAMS,
  readConfig: () => ({}),
  writeConfig: () => ({}),
  encode({ ops, input, params }) {
    const pre = ops.gemm(input, params.W_enc, { bias: params.b_enc });
    return { pre, acts: ops.relu(pre) };
  },
  training: {
    coefficients: ['l1Coefficient'],
    unitNormDecoder: false,
    init: (rng, dIn, dSae) => tiedInit(rng, dIn, dSae, 0.1),
    step(ctx) {
      const { ops, x, input, params, invBatch } = ctx;
      const lambda = ctx.coefficients.l1Coefficient;
      const decoderT = params[DECODER_T];
      const { acts } = standard.encode(ctx, {});
      const xHat = ops.gemm(acts, decoderT, { transB: true, bias: params.b_dec });
      const err = ops.sub(xHat, x);
      const mse = ops.mul(ops.sumAll(ops.mul(err, err)), invBatch);
      const rowNorms = ops.sqrt(ops.sumSquares(decoderT, 0));
      const actSums = ops.sum(acts, 0);
      const l1 = ops.mul(ops.sumAll(ops.mul(actSums, rowNorms)), invBatch);
      const loss = ops.add(mse, ops.mul(lambda, l1));

      const lambdaOverB = ops.mul(lambda, invBatch);
      const g = ops.mul(err, ops.mul(ops.scalar(2), invBatch));
      // The penalty's term enters as the Gemm's C: one pass over the decoder fewer than an Add.
      const normTerm = ops.mul(ops.div(ops.mul(actSums, lambdaOverB), rowNorms), decoderT);
      const gradDecoderT = ops.gemm(ops.transpose(g), acts, { bias: normTerm });
      const gradBdec = ops.sum(g, 0);
      const gradActs = ops.gemm(g, decoderT, { bias: ops.mul(rowNorms, lambdaOverB) });
      // pre > 0 exactly where acts > 0.
      const gradPre = ops.mul(gradActs, ops.positive(acts));
      const gradWenc = ops.gemm(ops.transpose(input), gradPre);
      const gradBenc = ops.sum(gradPre, 0);
      return {
        acts,
        loss,
        parts: { mse, l1 },
        grads: { W_enc: gradWenc, b_enc: gradBenc, [DECODER_T]: gradDecoderT, b_dec: gradBdec },
        detached: {},
      };
    },
  },
};
