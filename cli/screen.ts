/**
 * The interactive terminal: a readline prompt, and a `print` that writes above it and redraws
 * the prompt with whatever the user had typed, so incoming messages never garble the input.
 */
import { createInterface, clearLine, cursorTo, type Interface } from 'node:readline';

export class Screen {
  readonly lines: Interface;
  readonly #isTty: boolean;

  constructor() {
    this.#isTty = Boolean(process.stdin.isTTY && process.stdout.isTTY);
    this.lines = createInterface({
      input: process.stdin,
      output: process.stdout,
      terminal: this.#isTty,
      prompt: '> ',
    });
    if (this.#isTty) {
      this.lines.prompt();
      // A fresh prompt after every line typed; output printed meanwhile redraws it anyway.
      this.lines.on('line', () => this.lines.prompt());
    }
  }

  print(text: string): void {
    if (!this.#isTty) {
      process.stdout.write(`${text}\n`);
      return;
    }
    clearLine(process.stdout, 0);
    cursorTo(process.stdout, 0);
    process.stdout.write(`${text}\n`);
    this.lines.prompt(true);
  }

  close(): void {
    this.lines.close();
  }
}
