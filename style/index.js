import './base.css';
import './kernelstatus.css';
import './editor.css';
import './sidebar-states.css';
import './sidebar-tree.css';
