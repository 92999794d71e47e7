import { LabIcon } from '@jupyterlab/ui-components';

import condaSvg from '../style/icons/conda.svg';

export const condaIcon = new LabIcon({
  name: 'conda-store-jupyter:conda',
  svgstr: condaSvg
});
