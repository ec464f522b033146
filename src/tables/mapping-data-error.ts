/** A mapping or profile data file is broken: start-up stops with the file and the place. */
export class MappingDataError extends Error {
  override name = 'MappingDataError';
}
