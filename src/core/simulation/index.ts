export * from './experiment';
export * from './populations';
export * from './twoStep';
export * from './grid';
export * from './graph';
export * from './summary';
export * from './format';
export * from './run';
