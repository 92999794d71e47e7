import { downloadIcon } from '@jupyterlab/ui-components';
import React from 'react';

import { ArtifactKind, IBuild, isCollected } from '../models';
import { ICondaStoreAPI } from '../tokens';

const ARTIFACTS: Array<{
  kind: ArtifactKind;
  label: string;
  file: string;
  detail: React.ReactNode;
}> = [
  {
    kind: 'lockfile',
    label: 'Lock file',
    file: 'conda-lock.yml',
    detail:
      'conda-lock format, every platform: recreate exactly this environment with conda-lock or micromamba.'
  },
  {
    kind: 'yaml',
    label: 'Environment YAML',
    file: 'environment.yaml',
    detail: (
      <>
        Exact pins, for <code>conda env create -f</code>.
      </>
    )
  },
  {
    kind: 'explicit',
    label: 'Explicit specification',
    file: 'explicit.txt',
    detail: (
      <>
        <code>@EXPLICIT</code> package URLs for <code>conda create --file</code>, this platform
        only.
      </>
    )
  },
  {
    kind: 'archive',
    label: 'Archive',
    file: 'environment.tar.gz',
    detail:
      'conda-pack archive to unpack and use elsewhere; made on first download, which can take a while.'
  },
  {
    kind: 'logs',
    label: 'Build log',
    file: 'build.log',
    detail: 'Everything the build wrote.'
  }
];

/** Download links for a build's artifacts (under the server's base URL). */
export function ArtifactsView(props: { api: ICondaStoreAPI; build: IBuild | null }): JSX.Element {
  const { api, build } = props;
  if (!build) {
    return <p className="jp-CondaStore-muted">No build selected.</p>;
  }
  const completed = build.status === 'COMPLETED';
  // Garbage collection removed its prefix: no archive can be packed from it until restored.
  const collected = isCollected(build);
  return (
    <div className="jp-CondaStore-artifacts">
      {!completed && (
        <p className="jp-CondaStore-muted">
          Build {build.id} is {build.status.toLowerCase()}: only its log can be downloaded
          {build.status === 'QUEUED' || build.status === 'BUILDING' ? ' until it completes' : ''}.
        </p>
      )}
      {completed && collected && (
        <p className="jp-CondaStore-muted">
          Build {build.id} was removed by garbage collection: restore it (Builds tab) to download
          its archive.
        </p>
      )}
      <ul className="jp-CondaStore-artifactList" aria-label={`Artifacts of build ${build.id}`}>
        {ARTIFACTS.map(artifact => {
          const available =
            (completed && !(collected && artifact.kind === 'archive')) || artifact.kind === 'logs';
          return (
            <li key={artifact.kind} data-artifact={artifact.kind}>
              {available ? (
                <a
                  className="jp-CondaStore-artifactLink"
                  href={api.artifactURL(build.id, artifact.kind)}
                  download
                  aria-label={`Download ${artifact.label} of build ${build.id}`}
                >
                  <downloadIcon.react tag="span" elementSize="normal" />
                  <span>{artifact.label}</span>
                </a>
              ) : (
                <span className="jp-CondaStore-artifactLink" aria-disabled="true">
                  <downloadIcon.react tag="span" elementSize="normal" />
                  <span>{artifact.label}</span>
                </span>
              )}
              <span className="jp-CondaStore-mono jp-CondaStore-muted">{artifact.file}</span>
              <span className="jp-CondaStore-artifactDetail">{artifact.detail}</span>
            </li>
          );
        })}
      </ul>
    </div>
  );
}
