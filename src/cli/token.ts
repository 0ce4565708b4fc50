import { parseArgs } from 'node:util';
import jwt from 'jsonwebtoken';
import { devKeyPair } from '../auth/dev-keys.js';
import { loadConfig } from '../config.js';

/** Every scope of the attribute, value and scope operations, granted when no --scope is given. */
const ATTRIBUTE_SCOPES = [
  ...['attributes', 'user-attributes', 'session-attributes'].flatMap((area) =>
    ['readonly', 'write', 'delete'].map((s) => `https://jans.io/oauth/config/${area}.${s}`),
  ),
  ...['readonly', 'write'].map((s) => `https://jans.io/oauth/config/scopes.${s}`),
];

const { values } = parseArgs({
  options: {
    scope: { type: 'string' },
    sub: { type: 'string', default: 'dev-admin' },
    'expires-in': { type: 'string', default: '1h' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  process.stdout.write(
    'Usage: npm run -s token -- [--scope "<space-separated scopes>"] [--sub <subject>] [--expires-in 1h]\n' +
      'Prints a bearer token signed with the development key in DATA_DIR (default ./.data).\n',
  );
  process.exit(0);
}

const config = loadConfig();
const { privateKey } = await devKeyPair(config.dataDir);
const token = jwt.sign(
  { scope: values.scope ?? ATTRIBUTE_SCOPES.join(' '), client_id: 'dev-cli' },
  privateKey,
  {
    algorithm: 'RS256',
    subject: values.sub,
    expiresIn: values['expires-in'] as jwt.SignOptions['expiresIn'],
    ...(config.jwtIssuer ? { issuer: config.jwtIssuer } : {}),
    ...(config.jwtAudience ? { audience: config.jwtAudience } : {}),
  },
);
process.stdout.write(`${token}\n`);
