import * as vscode from 'vscode';
import { simulateCommand } from './commands/simulate';

export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel('ICRL Lens');
  context.subscriptions.push(
    output,
    vscode.commands.registerCommand('icrlLens.simulate', () => simulateCommand(context, output)),
  );
}

export function deactivate(): void {}
