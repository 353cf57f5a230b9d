/** The transformer runtime: model folders, tokenizer, graph surgery, providers, tapped and intervened passes. */
export { analyzeGraph, type BlockInfo, type GraphAnalysis, type KvCacheInfo, type ResidualType } from './analysis';
export { ModelError } from './errors';
export { resolveModelFiles, type ModelFiles } from './files';
export type { BlockResidual, DeltaFn, ForwardResult, Interventions, PassOptions } from './passes';
export { createSession, describeProviders, PROVIDERS, type ProviderAttempt, type ProviderChoice, type ProviderName, type ProviderReport } from './providers';
export { LanguageModel, loadModel, type LoadOptions, type ModelInfo, type SequenceBatch } from './runtime';
export { defaultCacheDir, deltaInput, prepareModel, SURGERY_VERSION, tapOutput, type PreparedModel } from './surgery';
export { LmTokenizer, type AnswerTokens, type EncodedText, type Span } from './tokenizer';
export { answerDistribution, chooseAnswer, DEFAULT_PLAY_POLICY, policyName, type AnswerDistribution, type AnswerPolicy } from './answers';
export { playOptions, playTwoStep, PLAY_DEFAULTS, scoreTwoStep, type Decision, type PlayedExperiment, type PlayHooks, type PlayOptions, type RunHooks, type ScoreOptions } from './play';
export { NOT_AN_ANSWER, RECORDED_FIELDS, ResidualRecorder, type RecordedPositions } from './recorder';
export { watchTranscripts, type Prediction, type WatchedTranscript } from './watch';
