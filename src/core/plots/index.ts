export { ChartInputError, type ChartSpec } from './common';
export * from './communityChart';
export * from './correlationCharts';
export * from './episodeCharts';
export * from './latentChart';
export * from './nllChart';
export * from './render';
export * from './smooth';
export * from './theme';
