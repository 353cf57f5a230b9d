import { fork } from 'node:child_process';
import * as vscode from 'vscode';
import { TASK_KINDS } from '../../core/envs/types';

/** The CLI arguments for a simulation with the user's settings. */
export function simulateArgs(task: string, settings: { seed: number; experiments: number }): string[] {
  return ['simulate', '--task', task, '--seed', String(settings.seed), '--experiments', String(settings.experiments)];
}

/**
 * "ICRL Lens: Simulate the Three Tasks": runs the CLI's simulation in a child
 * process, so the editor never waits on it, and shows its statistics in the
 * ICRL Lens output channel. Cancelling the progress notification kills the process.
 */
export async function simulateCommand(context: vscode.ExtensionContext, output: vscode.OutputChannel): Promise<void> {
  const task = await vscode.window.showQuickPick(['all', ...TASK_KINDS], { title: 'ICRL Lens: task to simulate' });
  if (task === undefined) return;
  const config = vscode.workspace.getConfiguration('icrlLens');
  const args = simulateArgs(task, { seed: config.get('seed', 1), experiments: config.get('experiments', 100) });
  const cli = vscode.Uri.joinPath(context.extensionUri, 'dist', 'cli.js').fsPath;
  output.show(true);
  output.appendLine(`$ icrl-lens ${args.join(' ')}`);
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `ICRL Lens: simulating ${task}`, cancellable: true },
    (_progress, token) =>
      new Promise<void>((resolve) => {
        const child = fork(cli, args, { silent: true });
        child.stdout?.on('data', (chunk: Buffer) => output.append(chunk.toString()));
        child.stderr?.on('data', (chunk: Buffer) => output.append(chunk.toString()));
        const cancel = token.onCancellationRequested(() => child.kill());
        child.on('exit', (code, signal) => {
          cancel.dispose();
          if (signal !== null) output.appendLine('simulation cancelled');
          else if (code !== 0) void vscode.window.showErrorMessage(`ICRL Lens: the simulation failed (exit code ${code}); see the output channel.`);
          resolve();
        });
      }),
  );
}
