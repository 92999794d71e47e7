/**
 * The commands that move environments around: export (a download), import (an upload), copy
 * and rename. The environment view's header, the sidebar and the context menus run them.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { InputDialog, MainAreaWidget, Notification } from '@jupyterlab/apputils';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import type { IArchive } from './api';
import { errorText } from './components';
import { importDialog, moveEnvironmentDialog } from './dialogs';
import { DraftStore } from './drafts';
import { CommandIDs, ICondaStoreAPI, IEnvironmentsModel } from './tokens';
import type { EnvironmentPanel } from './view/panel';

/** What the commands need of the panel plugin. */
export interface ITransferOptions {
  app: JupyterFrontEnd;
  api: ICondaStoreAPI;
  model: IEnvironmentsModel;
  drafts: DraftStore;
  /** The namespaces to offer as targets. */
  namespaceNames: () => string[];
  openView: (namespace: string, name: string) => void;
  /** The open view of an environment, if any. */
  findView: (namespace: string, name: string) => MainAreaWidget<EnvironmentPanel> | undefined;
}

/**
 * Hand an archive to the browser as a download. Fetched, then saved from memory (rather than a
 * link to the export URL) so that token auth applies and errors come back as messages.
 */
export function saveArchive(archive: IArchive): void {
  const url = URL.createObjectURL(archive.blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = archive.filename;
  link.style.display = 'none';
  document.body.appendChild(link);
  link.click();
  link.remove();
  // Not at once: the browser may read the blob after the click returns.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Where the context menu was opened: the environment of a sidebar row, the namespace of a header. */
const ROW = '.jp-CondaStore-envButton[data-environment]:not([data-state="draft"])';
const HEADER = '.jp-CondaStore-namespaceHeader';

export function addTransferCommands(options: ITransferOptions): void {
  const { app, api, model, drafts } = options;
  const { commands } = app;

  /** The environment the command is for: its arguments, else the row right-clicked. */
  const target = (args: ReadonlyPartialJSONObject): { namespace: string; name: string } | null => {
    const namespace = args['namespace'] as string | undefined;
    const name = args['name'] as string | undefined;
    if (namespace && name) {
      return { namespace, name };
    }
    const row = app.contextMenuHitTest(node => node.matches(ROW));
    const [rowNamespace, ...rest] = row?.dataset.environment?.split('/') ?? [];
    return rowNamespace && rest.length ? { namespace: rowNamespace, name: rest.join('/') } : null;
  };
  const exists = (namespace: string, name: string) => !!model.entry(namespace, name);

  commands.addCommand(CommandIDs.exportEnvironment, {
    label: 'Export',
    caption: 'Download the environment with its builds, to import on another conda-store',
    execute: async args => {
      const env = target(args);
      if (!env) {
        return;
      }
      try {
        saveArchive(await api.exportEnvironment(env.namespace, env.name));
      } catch (reason) {
        if (args['namespace']) {
          throw reason; // the view that asked shows it
        }
        Notification.error(errorText(reason, `export ${env.namespace}/${env.name}`));
      }
    }
  });

  commands.addCommand(CommandIDs.exportNamespace, {
    label: args => (args['isPalette'] ? 'Export conda-store namespace…' : 'Export namespace'),
    caption: 'Download every environment of the namespace, to import on another conda-store',
    execute: async args => {
      let namespace = args['namespace'] as string | undefined;
      namespace ??= app.contextMenuHitTest(node => node.matches(HEADER))?.dataset.treeNamespace;
      if (!namespace) {
        const choice = await InputDialog.getItem({
          title: 'Export namespace',
          label: 'Namespace',
          items: options.namespaceNames()
        });
        if (!choice.button.accept || !choice.value) {
          return;
        }
        namespace = choice.value;
      }
      try {
        saveArchive(await api.exportNamespace(namespace));
      } catch (reason) {
        // From a menu there is no panel to show it in.
        Notification.error(errorText(reason, `export namespace ${namespace}`));
      }
    }
  });

  commands.addCommand(CommandIDs.copyEnvironment, {
    label: 'Copy…',
    caption: 'Copy the environment, under another name or in another namespace',
    execute: async args => {
      const env = target(args);
      if (!env) {
        return;
      }
      const copy = await moveEnvironmentDialog({
        verb: 'copy',
        ...env,
        namespaces: options.namespaceNames(),
        exists,
        action: to => api.copyEnvironment(env.namespace, env.name, to),
        validator: api
      });
      if (copy) {
        void model.refresh();
        options.openView(copy.namespace.name, copy.name);
      }
    }
  });

  commands.addCommand(CommandIDs.renameEnvironment, {
    label: 'Rename…',
    caption: 'Rename the environment, or move it to another namespace',
    execute: async args => {
      const env = target(args);
      if (!env) {
        return;
      }
      const renamed = await moveEnvironmentDialog({
        verb: 'rename',
        ...env,
        namespaces: options.namespaceNames(),
        exists,
        action: to => api.renameEnvironment(env.namespace, env.name, to),
        validator: api
      });
      if (!renamed) {
        return;
      }
      const namespace = renamed.namespace.name;
      const name = renamed.name;
      // The view follows: the old one goes, unbuilt edits move to the new name.
      const old = options.findView(env.namespace, env.name);
      old?.content.model.spec.saveDraft();
      old?.dispose();
      const draft = drafts.get(env.namespace, env.name);
      if (draft) {
        drafts.discard(env.namespace, env.name);
        // Across namespaces the builds were copied, under new ids: start from the current one.
        const baseBuildId =
          namespace === env.namespace ? draft.baseBuildId : renamed.current_build_id;
        drafts.save({ ...draft, namespace, name, baseBuildId });
      }
      void model.refresh();
      options.openView(namespace, name);
    }
  });

  commands.addCommand(CommandIDs.importEnvironments, {
    label: args => (args['isPalette'] ? 'Import conda environments' : 'Import environments…'),
    caption: 'Recreate environments from an archive exported from a conda-store',
    execute: async () => {
      const imported = await importDialog({
        namespaces: options.namespaceNames(),
        action: (file, namespace) => api.importArchive(file, { namespace }),
        validator: api
      });
      if (!imported) {
        return;
      }
      await model.refresh();
      if (imported.length === 1) {
        options.openView(imported[0].namespace, imported[0].name);
      } else {
        Notification.success(
          `Imported ${imported.length} environments: ` +
            imported.map(e => `${e.namespace}/${e.name}`).join(', ')
        );
      }
    }
  });

  app.contextMenu.addItem({ command: CommandIDs.exportNamespace, selector: HEADER, rank: 10 });
  for (const [rank, command] of [
    CommandIDs.exportEnvironment,
    CommandIDs.copyEnvironment,
    CommandIDs.renameEnvironment
  ].entries()) {
    app.contextMenu.addItem({ command, selector: ROW, rank: 10 + rank });
  }
}
