import { IBuild, IBuildDiff } from '../models';
import { Resource } from '../resource';
import { ChangeNotifier } from '../signals';
import { ICondaStoreAPI } from '../tokens';

/** What a comparison needs to know of the environment's builds. */
export interface IComparedBuilds {
  readonly builds: ReadonlyArray<IBuild>;
  readonly currentBuildId: number | null;
}

/**
 * The comparison of the Builds tab: a build, the build it is compared with, and the differences
 * of their packages (fetched once per pair). `changed` is emitted when the builds compared or
 * their differences change.
 */
export class BuildComparison extends ChangeNotifier {
  constructor(
    private readonly _api: ICondaStoreAPI,
    private readonly _environment: IComparedBuilds
  ) {
    super();
    this.differences.changed.connect(() => this.emitChanged(), this);
  }

  /** The differences from `to` to `from`. */
  readonly differences = new Resource<IBuildDiff>();

  /** The build compared; null: no comparison. */
  get from(): number | null {
    return this._from;
  }

  /** The build it is compared with; null when there is no other completed build. */
  get to(): number | null {
    return this._to;
  }

  /**
   * Compare build `from` with build `to`, by default with the current build, else the newest
   * other completed one; `from` null: stop comparing.
   */
  show(from: number | null, to?: number | null): void {
    if (from === null) {
      to = null;
    } else if (to === undefined) {
      const { builds, currentBuildId: current } = this._environment;
      const others = builds.filter(b => b.id !== from && b.status === 'COMPLETED');
      to = current !== null && current !== from ? current : (others[0]?.id ?? null);
    }
    this._from = from;
    this._to = to;
    this.emitChanged();
    const [a, b] = [to, from];
    void this.differences.request(a === null || b === null ? null : `${a}:${b}`, () =>
      this._api.diffBuilds(a!, b!)
    );
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.differences.dispose();
    super.dispose();
  }

  private _from: number | null = null;
  private _to: number | null = null;
}
