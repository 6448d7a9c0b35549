/**
 * What a container request must look like: the shapes of its JSON fields (checked once, at
 * the GraphQL edge) and what committing it needs (checked before anything is written). Each
 * error is BAD_USER_INPUT naming the field.
 */
import type { ContainerSpec } from "../api/types";
import { badInput } from "../errors";

/** Serialized size of one JSON field at most: these are stored, hashed and returned whole. */
export const MAX_JSON_BYTES = 64 * 1024;
export const MAX_COMMAND_ARGS = 1000;
export const MAX_PRIORITY = 1000;
/** Containers one request may ask for, retries included (Arvados' default is 3). */
export const MAX_CONTAINER_COUNT = 100;

function jsonSize(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? "");
}

function sized<T>(value: T, name: string): T {
  if (jsonSize(value) > MAX_JSON_BYTES) throw badInput(`${name}: at most ${MAX_JSON_BYTES} bytes of JSON`);
  return value;
}

/** A JSON object (not an array, not a scalar), bounded in size. */
export function objectField(value: unknown, name: string): Record<string, unknown> {
  if (!value || typeof value !== "object" || Array.isArray(value)) throw badInput(`${name}: must be a JSON object`);
  return sized(value as Record<string, unknown>, name);
}

/** Environment variables: names to string values. */
export function environmentField(value: unknown, name: string): Record<string, string> {
  const env = objectField(value, name);
  for (const [k, v] of Object.entries(env)) if (typeof v !== "string") throw badInput(`${name}.${k.slice(0, 64)}: must be a string`);
  return env as Record<string, string>;
}

export function commandField(value: string[], name: string): string[] {
  if (value.length > MAX_COMMAND_ARGS) throw badInput(`${name}: at most ${MAX_COMMAND_ARGS} arguments`);
  return sized(value, name);
}

export function intField(value: number, name: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw badInput(`${name}: must be an integer from ${min} to ${max}`);
  return value;
}

const isPositiveInteger = (v: unknown) => typeof v === "number" && Number.isInteger(v) && v > 0;

/** What committing needs (Arvados: command, image, output path among the mounts, vcpus and ram). */
export function requireCommittable(spec: ContainerSpec): void {
  if (spec.command.length === 0) throw badInput("command: must not be empty to commit");
  if (!spec.containerImage.trim()) throw badInput("containerImage: must not be empty to commit");
  if (!Object.prototype.hasOwnProperty.call(spec.mounts, spec.outputPath))
    throw badInput(`outputPath: "${spec.outputPath.slice(0, 200)}" must be a key of mounts to commit`);
  for (const key of ["vcpus", "ram"])
    if (!isPositiveInteger(spec.runtimeConstraints[key])) throw badInput(`runtimeConstraints.${key}: must be a positive integer to commit`);
}
