import AgentRun from './commands/agent/run.js';
import AgentServiceInstall from './commands/agent/service/install.js';
import Agents from './commands/agents/index.js';
import AgentsEnrollToken from './commands/agents/enroll-token.js';
import AgentsRemove from './commands/agents/remove.js';
import AgentsShow from './commands/agents/show.js';
import Audit from './commands/audit.js';
import ControllerServe from './commands/controller/serve.js';
import ControllerServiceInstall from './commands/controller/service/install.js';
import Doctor from './commands/doctor.js';
import Exec from './commands/exec.js';
import Help from './commands/help.js';
import JobsCancel from './commands/jobs/cancel.js';
import JobsList from './commands/jobs/list.js';
import JobsLogs from './commands/jobs/logs.js';
import JobsShow from './commands/jobs/show.js';
import JobsWait from './commands/jobs/wait.js';
import Login from './commands/login.js';
import Logout from './commands/logout.js';
import UsersAdd from './commands/users/add.js';
import UsersList from './commands/users/list.js';
import UsersPasswd from './commands/users/passwd.js';
import UsersRemove from './commands/users/remove.js';

/** Every command, listed by hand (oclif explicit strategy) so the CLI can be bundled into one file. */
export const COMMANDS = {
  'agent:run': AgentRun,
  'agent:service:install': AgentServiceInstall,
  agents: Agents,
  'agents:enroll-token': AgentsEnrollToken,
  'agents:remove': AgentsRemove,
  'agents:show': AgentsShow,
  audit: Audit,
  'controller:serve': ControllerServe,
  'controller:service:install': ControllerServiceInstall,
  doctor: Doctor,
  exec: Exec,
  help: Help,
  'jobs:cancel': JobsCancel,
  'jobs:list': JobsList,
  'jobs:logs': JobsLogs,
  'jobs:show': JobsShow,
  'jobs:wait': JobsWait,
  login: Login,
  logout: Logout,
  'users:add': UsersAdd,
  'users:list': UsersList,
  'users:passwd': UsersPasswd,
  'users:remove': UsersRemove,
};
