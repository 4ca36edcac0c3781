// Subscribe with the reference graphql-transport-ws client and print each result as a JSON
// line; exit 0 after `count` results. Usage: node subscribe.mjs <url> <count> <query> <variables-json> [token]
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, count, query, variables, token] = process.argv.slice(2);
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: token ? { authorization: `Bearer ${token}` } : {},
  retryAttempts: 0,
  on: { connected: () => console.log(JSON.stringify({ connected: true })) },
});

let seen = 0;
const subscription = client.iterate({ query, variables: JSON.parse(variables) });
try {
  for await (const result of subscription) {
    console.log(JSON.stringify(result));
    seen += 1;
    if (seen >= Number(count)) break;
  }
} catch (error) {
  console.error(JSON.stringify(error?.reason ?? String(error)));
  process.exitCode = 1;
} finally {
  await client.dispose();
}
