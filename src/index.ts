import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  InputDialog,
  MainAreaWidget,
  WidgetTracker,
  showErrorMessage
} from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { CondaStoreAPI } from './api';
import { errorText } from './components';
import { createEnvironmentDialog, newNamespaceDialog } from './dialogs';
import { condaIcon } from './icons';
import { EnvironmentsModel } from './model';
import { readSettings } from './settings';
import { CondaStoreSidebar } from './sidebar';
import { CommandIDs, ICondaStoreAPI, IEnvironmentsModel, PLUGIN_ID, SIDEBAR_ID } from './tokens';
import { DraftStore } from './drafts';
import { kernelStatusPlugin } from './kernelstatus';
import { addTransferCommands } from './transfer';
import { EnvironmentViewModel, IDraft, ViewTab } from './view/model';
import { EnvironmentPanel, createEnvironmentWidget, viewId } from './view/panel';

/** The panel's settings (schema/plugin.json), which the models follow; null without a registry. */
async function loadSettings(
  registry: ISettingRegistry | null
): Promise<ISettingRegistry.ISettings | null> {
  try {
    return registry ? await registry.load(PLUGIN_ID) : null;
  } catch (reason) {
    console.warn('conda-store: cannot load the settings', reason);
    return null;
  }
}

/** The API client, provided to every other plugin of the extension. */
const apiPlugin: JupyterFrontEndPlugin<ICondaStoreAPI> = {
  id: '@conda-store-jupyter/labextension:api',
  description: 'Client of the conda-store-jupyter REST API.',
  autoStart: true,
  provides: ICondaStoreAPI,
  activate: (app: JupyterFrontEnd): ICondaStoreAPI =>
    new CondaStoreAPI(app.serviceManager.serverSettings)
};

/** The namespaces and environments, refreshed live while something builds. */
const environmentsPlugin: JupyterFrontEndPlugin<IEnvironmentsModel> = {
  id: '@conda-store-jupyter/labextension:environments',
  description: 'The namespaces and environments of the conda-store, with their states.',
  autoStart: true,
  requires: [ICondaStoreAPI],
  optional: [ISettingRegistry],
  provides: IEnvironmentsModel,
  activate: async (
    app: JupyterFrontEnd,
    api: ICondaStoreAPI,
    settingRegistry: ISettingRegistry | null
  ): Promise<IEnvironmentsModel> =>
    new EnvironmentsModel(api, { settings: await loadSettings(settingRegistry) })
};

/** The sidebar, the environment views, the dialogs and their commands. */
const panelPlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'The conda-store panel: sidebar, environment views and commands.',
  autoStart: true,
  requires: [ICondaStoreAPI, IEnvironmentsModel, ILabShell],
  optional: [ICommandPalette, ISettingRegistry, IEditorServices, ILayoutRestorer],
  activate: async (
    app: JupyterFrontEnd,
    api: ICondaStoreAPI,
    model: IEnvironmentsModel,
    labShell: ILabShell,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    editorServices: IEditorServices | null,
    restorer: ILayoutRestorer | null
  ): Promise<void> => {
    const { commands } = app;
    // The environments model and each view model follow the settings themselves.
    const settings = await loadSettings(settingRegistry);
    const tracker = new WidgetTracker<MainAreaWidget<EnvironmentPanel>>({
      namespace: 'conda-store-environments'
    });

    const views = new Map<string, MainAreaWidget<EnvironmentPanel>>();
    // Unbuilt edits, kept in the browser until built or discarded: the sidebar lists them and
    // each view restores its own.
    const drafts = new DraftStore();
    const sidebar = new CondaStoreSidebar(model, commands, drafts);
    labShell.add(sidebar, 'left', { rank: 850 });
    restorer?.add(sidebar, SIDEBAR_ID);

    /** Open (or show) an environment's view. */
    const openView = (
      namespace: string,
      name: string,
      options: {
        draft?: IDraft;
        tab?: ViewTab;
        buildId?: number;
        /** Compare `buildId` with this build (the Builds tab's comparison). */
        compareWith?: number;
        activate?: boolean;
      } = {}
    ): MainAreaWidget<EnvironmentPanel> => {
      const id = viewId(namespace, name);
      let widget = views.get(id);
      if (widget && options.draft && !widget.content.model.isDraft) {
        widget.content.model.setSpecText(options.draft.text);
      }
      if (!widget) {
        const viewModel = new EnvironmentViewModel({
          api,
          namespace,
          name,
          draft: options.draft,
          drafts,
          environments: model,
          kernelspecs: app.serviceManager.kernelspecs,
          settings
        });
        widget = createEnvironmentWidget({
          model: viewModel,
          commands,
          editorFactory: editorServices
            ? options => editorServices.factoryService.newInlineEditor(options)
            : null
        });
        const created = widget;
        views.set(id, created);
        created.disposed.connect(() => views.delete(id));
        // Drafts are not restored after a reload: only environments that exist are tracked.
        const track = () => {
          if (!viewModel.isDraft && !tracker.has(created)) {
            void tracker.add(created);
          }
        };
        viewModel.changed.connect(track);
        track();
        labShell.add(widget, 'main');
        if (!options.draft) {
          void viewModel.refresh();
        }
      }
      const viewModel = widget.content.model;
      if (options.buildId !== undefined) {
        viewModel.selectBuild(options.buildId);
        if (options.compareWith !== undefined && options.compareWith !== options.buildId) {
          viewModel.comparison.show(options.buildId, options.compareWith);
        }
      }
      if (options.tab) {
        viewModel.tab = options.tab;
      }
      if (options.activate !== false) {
        labShell.activateById(widget.id);
      }
      return widget;
    };

    commands.addCommand(CommandIDs.openPanel, {
      label: 'Open the conda-store panel',
      caption: 'Show the conda environments in the left sidebar',
      icon: args => (args['isPalette'] ? undefined : condaIcon),
      execute: () => labShell.activateById(SIDEBAR_ID)
    });

    commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh conda environments',
      execute: () => model.refresh()
    });

    commands.addCommand(CommandIDs.openEnvironment, {
      label: args =>
        args['namespace'] && args['name']
          ? `Open ${args['namespace']}/${args['name']}`
          : 'Open conda environment…',
      caption: 'Open an environment: its specification, builds, log, packages and artifacts',
      describedBy: {
        args: {
          type: 'object',
          properties: {
            namespace: { type: 'string', description: 'The namespace of the environment' },
            name: { type: 'string', description: 'The name of the environment' },
            tab: {
              type: 'string',
              enum: ['specification', 'builds', 'log', 'packages', 'artifacts']
            },
            buildId: { type: 'number', description: 'The build to select' },
            compareWith: {
              type: 'number',
              description: 'A build to compare the selected build with (in the Builds tab)'
            }
          }
        }
      },
      execute: async args => {
        let namespace = args['namespace'] as string | undefined;
        let name = args['name'] as string | undefined;
        if (!namespace || !name) {
          await model.refresh();
          const items = model.entries.map(
            e => `${e.environment.namespace.name}/${e.environment.name}`
          );
          if (!items.length) {
            await showErrorMessage(
              'No conda environments',
              'There is no environment to open yet. Create one with “New conda environment”.'
            );
            return;
          }
          const choice = await InputDialog.getItem({
            title: 'Open conda environment',
            label: 'Environment',
            items
          });
          if (!choice.button.accept || !choice.value) {
            return;
          }
          [namespace, name] = choice.value.split('/');
        }
        // A kept draft of an environment not created yet opens as that draft.
        const stored = drafts.get(namespace, name);
        if (stored?.isNew && !views.has(viewId(namespace, name))) {
          if (!model.loaded) {
            await model.refresh().catch(() => undefined);
          }
          if (!model.entry(namespace, name)) {
            openView(namespace, name, { draft: stored, tab: 'specification' });
            return;
          }
        }
        openView(namespace, name, {
          tab: args['tab'] as ViewTab | undefined,
          buildId: args['buildId'] as number | undefined,
          compareWith: args['compareWith'] as number | undefined
        });
      }
    });

    let primaryNamespace: string | null = null;
    const defaultNamespace = async (): Promise<string> => {
      if (primaryNamespace === null) {
        try {
          primaryNamespace = (await api.permissions()).primary_namespace || 'default';
        } catch {
          primaryNamespace = 'default';
        }
      }
      return primaryNamespace;
    };
    const namespaceNames = () =>
      Array.from(
        new Set([
          ...model.namespaces.map(n => n.name),
          ...model.entries.map(e => e.environment.namespace.name)
        ])
      ).sort();

    commands.addCommand(CommandIDs.newEnvironment, {
      label: args => (args['isPalette'] ? 'New conda environment' : 'New environment…'),
      caption: 'Create a conda environment from a template or a file',
      icon: args => (args['isPalette'] ? undefined : condaIcon),
      execute: async args => {
        if (!model.loaded) {
          await model.refresh();
        }
        const given = args['namespace'] as string | undefined;
        const options = {
          namespaces: namespaceNames(),
          defaultNamespace: given || (await defaultNamespace()),
          exists: (ns: string, name: string) => !!model.entry(ns, name),
          validator: api
        };
        let initial = {};
        let error: string | null = null;
        for (;;) {
          const request = await createEnvironmentDialog({ ...options, error }, initial);
          if (!request) {
            return;
          }
          if (!request.buildNow) {
            openView(request.namespace, request.name, {
              draft: { text: request.text, isLockfile: request.isLockfile },
              tab: 'specification'
            });
            return;
          }
          try {
            const buildId = await api.submitSpecification({
              namespace: request.namespace,
              specification: request.text,
              is_lockfile: request.isLockfile,
              environment_name: request.name
            });
            if (drafts.get(request.namespace, request.name)?.isNew) {
              drafts.discard(request.namespace, request.name); // built: no longer a draft
            }
            void model.refresh();
            if (readSettings(settings).openAfterCreate) {
              openView(request.namespace, request.name, { tab: 'log', buildId });
            }
            return;
          } catch (reason) {
            error = errorText(reason, `create ${request.namespace}/${request.name}`);
            initial = {
              namespace: request.namespace,
              name: request.name,
              buildNow: true
            };
          }
        }
      }
    });

    commands.addCommand(CommandIDs.newNamespace, {
      label: args => (args['isPalette'] ? 'New conda-store namespace' : 'New namespace…'),
      caption: 'Create a namespace to group environments',
      execute: async () => {
        const name = await newNamespaceDialog(
          value => api.createNamespace(value),
          namespaceNames(),
          api
        );
        if (name) {
          await model.refresh();
        }
      }
    });

    addTransferCommands({
      app,
      api,
      model,
      drafts,
      namespaceNames,
      openView: (namespace, name) => void openView(namespace, name),
      findView: (namespace, name) => views.get(viewId(namespace, name))
    });

    if (palette) {
      const category = 'conda-store';
      for (const command of [
        CommandIDs.openPanel,
        CommandIDs.newEnvironment,
        CommandIDs.openEnvironment,
        CommandIDs.newNamespace,
        CommandIDs.importEnvironments,
        CommandIDs.exportNamespace,
        CommandIDs.refresh
      ]) {
        palette.addItem({
          command,
          category,
          args: { isPalette: true }
        });
      }
    }

    if (restorer) {
      void restorer.restore(tracker, {
        command: CommandIDs.openEnvironment,
        args: widget => ({
          namespace: widget.content.model.namespace,
          name: widget.content.model.name
        }),
        name: widget => `${widget.content.model.namespace}/${widget.content.model.name}`,
        when: app.serviceManager.ready
      });
    }
  }
};

export default [apiPlugin, environmentsPlugin, panelPlugin, kernelStatusPlugin];
