/**
 * A JavaScript backend: `--backend=./select.js` names an ES module whose default export (or `select`
 * export) is called for every handshake with the request (see `PeerRequest`) and the backend settings
 * (`--backend-config key=value`), and returns `{ peer, framing?, framingConfig?, protocol? }`, a refusal
 * `{ status, message? }`, or null (404). It may be async. A function that throws refuses with 500.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Backend, BackendResult, PeerRequest } from './backend.js';
import { BackendConfigError } from './backend-file.js';

export type BackendSettings = Record<string, string>;

type ModuleFunction = (
  request: PeerRequest,
  settings: BackendSettings,
) => BackendResult | Promise<BackendResult>;

export async function loadBackendModule(path: string, settings: BackendSettings = {}): Promise<Backend> {
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  } catch (error) {
    throw new BackendConfigError(`cannot load backend module ${path}: ${(error as Error).message}`);
  }
  const fn = (typeof module.default === 'function' ? module.default : module.select) as
    ModuleFunction | undefined;
  if (typeof fn !== 'function')
    throw new BackendConfigError(`backend module ${path} exports no default function (nor 'select')`);
  const frozen = Object.freeze({ ...settings });
  return (request) => fn(request, frozen);
}
