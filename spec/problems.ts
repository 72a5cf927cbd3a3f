// What validation says about a definition: a problem at a field path.

export type PathSegment = string | number;

export interface Problem {
  /** Where in the definition, as segments ("action", "build_spec", "env_vars", 0). */
  path: PathSegment[];
  message: string;
  severity: 'error' | 'warning' | 'note';
}
