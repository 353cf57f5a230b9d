export * from './transcript';
export * from './twoStep';
export * from './grid';
export * from './graph';
export * from './recall';
