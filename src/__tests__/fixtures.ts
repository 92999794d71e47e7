/** Records as the API answers them, for the specs. */
import { BuildStatus, IBuild } from '../models';

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
    build_artifacts: []
  };
}
