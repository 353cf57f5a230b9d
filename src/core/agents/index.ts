export * from './types';
export * from './qLearning';
export * from './repetition';
export * from './successor';
export * from './likelihood';
export * from './fit';
export * from './compare';
export * from './simulate';
