import type { Json } from './types.js';

/** One problem a schema found, as Standard Schema validators report it. */
export interface SchemaIssue {
  message: string;
  path?: readonly (PropertyKey | { key: PropertyKey })[];
}

/**
 * Any Standard Schema validator (zod, valibot, arktype...): an object whose `~standard.validate` returns the
 * value or its issues, possibly asynchronously.
 */
export interface OutputSchema {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    validate(
      value: unknown,
    ):
      | { value: unknown; issues?: undefined }
      | { issues: readonly SchemaIssue[] }
      | Promise<{ value: unknown; issues?: undefined } | { issues: readonly SchemaIssue[] }>;
  };
}

export function isOutputSchema(value: unknown): value is OutputSchema {
  return typeof (value as OutputSchema | undefined)?.['~standard']?.validate === 'function';
}

/** Checks a value against a schema; returns the issues as readable strings, or undefined when it conforms. */
export async function schemaIssues(schema: OutputSchema, value: Json | undefined): Promise<string[] | undefined> {
  const result = await schema['~standard'].validate(value);
  if (!result.issues) return undefined;
  return result.issues.map((issue) => {
    const path = (issue.path ?? []).map((p) => String(typeof p === 'object' ? p.key : p)).join('.');
    return path ? `${path}: ${issue.message}` : issue.message;
  });
}
