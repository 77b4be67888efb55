/**
 * `p2pchat keygen [--out FILE]`: a fresh random network key. With --out it goes to a new file
 * of mode 0600 (never replacing one) for --network-key-file; without, to stdout, for a secrets
 * store or P2PCHAT_NETWORK_KEY. Returns the exit code: 0, 1 when the file cannot be written, 2
 * for a usage error.
 */
import { parseArgs } from 'node:util';
import { createSecretFile } from '../crypto/secret-file.js';
import { generateNetworkKey } from '../crypto/network-key.js';

export const KEYGEN_USAGE = `usage: p2pchat keygen [--out FILE]

Makes a random network key (32 random bytes, 64 hex characters) for a private mesh.

  --out FILE   write it to FILE, a new file of mode 0600, for every node's --network-key-file
               (without --out the key goes to stdout, e.g. into a secrets store)
`;

export async function runKeygen(argv: string[]): Promise<number> {
  let out: string | undefined;
  try {
    const { values } = parseArgs({
      args: argv,
      options: { out: { type: 'string' }, help: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      process.stdout.write(KEYGEN_USAGE);
      return 0;
    }
    out = values.out;
  } catch (err) {
    const message = (err as Error).message.split('\n')[0] ?? 'bad arguments';
    process.stderr.write(`p2pchat keygen: ${message}\ntry 'p2pchat keygen --help'\n`);
    return 2;
  }
  const key = generateNetworkKey();
  if (out === undefined) {
    process.stdout.write(`${key}\n`);
    return 0;
  }
  try {
    if (!(await createSecretFile(out, `${key}\n`))) {
      process.stderr.write(`p2pchat keygen: ${out} exists; not replaced\n`);
      return 1;
    }
  } catch (err) {
    process.stderr.write(`p2pchat keygen: cannot write ${out}: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(
    `network key written to ${out}; give every node of the mesh --network-key-file ${out}\n`,
  );
  return 0;
}
