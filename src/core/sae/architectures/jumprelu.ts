import { CORE_PARAMS, type SaeArchitecture } from './types';

/**
 * The JumpReLU SAE (Rajamanoharan et al. 2024; Gemma Scope's kind):
 * f = ReLU(pre) * 1[pre > threshold], with a learned threshold per latent.
 * It is here to load and run SAEs trained elsewhere; training it needs
 * straight-through estimators for the threshold, which this entry does not
 * provide, so the trainer does not offer it.
 */
export const jumprelu: SaeArchitecture<Record<string, never>> = {
  name: 'jumprelu',
  params: [...CORE_PARAMS, { name: 'threshold', shape: (_dIn, dSae) => [dSae] }],
  readConfig: () => ({}),
  writeConfig: () => ({}),
  encode({ ops, input, params }) {
    const pre = ops.gemm(input, params.W_enc, { bias: params.b_enc });
    const open = ops.cast(ops.b.op('Greater', [pre, params.threshold]), ops.type);
    return { pre, acts: ops.mul(ops.relu(pre), open) };
  },
};
