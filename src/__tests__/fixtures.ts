/** Records as the API answers them, for the specs. */
import { BuildStatus, IBuild, IEnvironment, INamespace } from '../models';

export function build(
  id: number,
  environment_id: number,
  status: BuildStatus,
  info?: string
): IBuild {
  return {
    id,
    environment_id,
    specification: null,
    packages: null,
    status,
    status_info: info ?? null,
    size: 0,
    scheduled_on: null,
    started_on: null,
    ended_on: null,
    build_artifacts: [],
    collected_on: null
  };
}

/** A namespace as the API lists it. */
export function ns(id: number, name: string): INamespace {
  return { id, name, metadata_: {}, role_mappings: [] };
}

/** An environment of `namespace` whose current build is `current`. */
export function env(
  id: number,
  namespace: string,
  name: string,
  current: IBuild | null
): IEnvironment {
  return {
    id,
    namespace: ns(1, namespace),
    name,
    current_build_id: current?.id ?? null,
    current_build: current,
    description: '',
    updated_on: null
  };
}
