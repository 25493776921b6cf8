import { Help as OclifHelp, type Command, type Interfaces } from '@oclif/core';

/**
 * oclif's help, with each command listed once: a command that is also a topic (`agents enroll-token`) was listed
 * under TOPICS and under COMMANDS, and the commands below it nowhere. Topic pages show an example of each command.
 */
export default class Help extends OclifHelp {
  override async showCommandHelp(command: Command.Loadable): Promise<void> {
    const summary = this.summary(command);
    if (summary) this.log(`${summary}\n`);
    this.log(this.formatCommand(command));
    this.log('');
    this.listCommandsUnder(command.id);
  }

  protected override async showTopicHelp(topic: Interfaces.Topic): Promise<void> {
    this.log(this.formatTopic(topic));
    const commands = this.listCommandsUnder(topic.name);
    const examples = commands.flatMap((c) => {
      const first = c.examples?.[0];
      return first === undefined ? [] : [`$ ${this.render(typeof first === 'string' ? first : first.command)}`];
    });
    if (examples.length) this.log(`${this.section('EXAMPLES', examples.join('\n\n'))}\n`);
  }

  /** Every command below `id`, at any depth, in one COMMANDS section. */
  private listCommandsUnder(id: string): Command.Loadable[] {
    const commands = this.sortedCommands.filter((c) => c.id.startsWith(`${id}:`));
    if (commands.length) {
      this.log(this.formatCommands(commands));
      this.log('');
    }
    return commands;
  }
}
