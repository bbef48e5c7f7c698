/**
 * Device twins of the dev gateway: desired and reported properties with
 * versions, JSON merge-patch semantics (`null` deletes), IoT Hub's 32 KB
 * limit per section, and optional persistence as `twins.json` in `--state`.
 *
 * @example
 * ```ts
 * const twins = await TwinStore.open();
 * twins.patchReported("pi-01", { firmware: "1.2" }); // { ok: true, version: 2 }
 * twins.deviceView("pi-01"); // { desired: { $version: 1 }, reported: { firmware: "1.2", $version: 2 } }
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { ConfigError } from "../errors.ts";

/** IoT Hub's limit for each of desired and reported (gateway-anchors.md §6). */
export const MAX_TWIN_SECTION_BYTES = 32 * 1024;

type Json = Record<string, unknown>;

interface TwinState {
  desired: Json;
  reported: Json;
  desiredVersion: number;
  reportedVersion: number;
}

/** Result of a patch: the new version, or an HTTP-like status and message. */
export type PatchResult =
  | { ok: true; version: number }
  | { ok: false; status: 400; message: string };

/** The twin as a device receives it on `$iothub/twin/res/200`. */
export interface DeviceTwinView {
  desired: Json & { $version: number };
  reported: Json & { $version: number };
}

/** The twin as IoT Hub's service API returns it from `GET /twins/{id}`. */
export interface ServiceTwinView {
  deviceId: string;
  moduleId?: string;
  version: number;
  properties: DeviceTwinView;
}

const FILE = "twins.json";

/** Twins by identity id (`device` or `device/module`). */
export class TwinStore {
  #twins: Map<string, TwinState>;
  #path?: string;

  private constructor(twins: Map<string, TwinState>, path?: string) {
    this.#twins = twins;
    this.#path = path;
  }

  /** Opens the store; with `stateDir`, loads and saves `stateDir/twins.json`. */
  static async open(stateDir?: string): Promise<TwinStore> {
    if (stateDir === undefined) return new TwinStore(new Map());
    const path = join(stateDir, FILE);
    try {
      await Deno.mkdir(stateDir, { recursive: true });
    } catch (cause) {
      throw new ConfigError(`Cannot create --state folder "${stateDir}"`, {
        cause,
        hint: "choose a writable folder",
      });
    }
    let text: string | undefined;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        throw new ConfigError(`Cannot read "${path}"`, {
          cause: error,
          hint: "check its permissions",
        });
      }
    }
    const twins = new Map<string, TwinState>();
    if (text !== undefined) {
      try {
        for (const [id, state] of Object.entries(JSON.parse(text) as Record<string, TwinState>)) {
          twins.set(id, state);
        }
      } catch (cause) {
        throw new ConfigError(`"${path}" is not valid JSON`, {
          cause,
          hint: "fix it or delete it (the twins start empty again)",
        });
      }
    }
    return new TwinStore(twins, path);
  }

  #state(id: string): TwinState {
    let state = this.#twins.get(id);
    if (!state) {
      state = { desired: {}, reported: {}, desiredVersion: 1, reportedVersion: 1 };
      this.#twins.set(id, state);
    }
    return state;
  }

  /** The twin as `$iothub/twin/GET` returns it. */
  deviceView(id: string): DeviceTwinView {
    const s = this.#state(id);
    return {
      desired: { ...structuredClone(s.desired), $version: s.desiredVersion },
      reported: { ...structuredClone(s.reported), $version: s.reportedVersion },
    };
  }

  /** The twin in IoT Hub's service shape. */
  serviceView(id: string): ServiceTwinView {
    const [deviceId, moduleId] = id.split("/");
    const view = this.deviceView(id);
    return {
      deviceId,
      ...(moduleId !== undefined ? { moduleId } : {}),
      version: view.desired.$version + view.reported.$version,
      properties: view,
    };
  }

  /** Merges a reported patch from the device (`null` deletes a key). */
  patchReported(id: string, patch: unknown): PatchResult {
    return this.#patch(id, "reported", patch);
  }

  /** Merges a desired patch from the service side. */
  patchDesired(id: string, patch: unknown): PatchResult {
    return this.#patch(id, "desired", patch);
  }

  #patch(id: string, section: "desired" | "reported", patch: unknown): PatchResult {
    if (!isObject(patch)) {
      return { ok: false, status: 400, message: `the ${section} patch must be a JSON object` };
    }
    const state = this.#state(id);
    const merged = mergePatch(structuredClone(state[section]), withoutMeta(patch));
    const size = new TextEncoder().encode(JSON.stringify(merged)).length;
    if (size > MAX_TWIN_SECTION_BYTES) {
      return {
        ok: false,
        status: 400,
        message:
          `${section} properties would be ${size} bytes, over the ${MAX_TWIN_SECTION_BYTES}-byte limit`,
      };
    }
    state[section] = merged;
    const version = section === "desired" ? ++state.desiredVersion : ++state.reportedVersion;
    this.#save();
    return { ok: true, version };
  }

  #save(): void {
    if (this.#path === undefined) return;
    const tmp = `${this.#path}.tmp`;
    Deno.writeTextFileSync(tmp, JSON.stringify(Object.fromEntries(this.#twins), null, 1));
    Deno.renameSync(tmp, this.#path);
  }
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A patch without top-level `$version` / `$metadata`, which clients may echo back. */
function withoutMeta(patch: Json): Json {
  const { $version: _v, $metadata: _m, ...rest } = patch;
  return rest;
}

/** JSON merge patch (RFC 7396): objects merge, `null` deletes, anything else replaces. */
export function mergePatch(target: Json, patch: Json): Json {
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete target[key];
    } else if (isObject(value)) {
      target[key] = mergePatch(isObject(target[key]) ? target[key] as Json : {}, value);
    } else {
      target[key] = value;
    }
  }
  return target;
}
