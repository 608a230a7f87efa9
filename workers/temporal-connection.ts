import { Client, Connection } from '@temporalio/client';
import type { GranaryConfig } from '../config/granary-config.ts';

/** A Temporal client for the configured server, with an error that names the address when it is not there. */
export async function connectClient(temporal: GranaryConfig['temporal']): Promise<Client> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: temporal.address, connectTimeout: '5s' });
  } catch (error) {
    throw new Error(
      `cannot reach the Temporal server at ${temporal.address} (${(error as Error).message}); ` +
        `start it with 'npm run stack -- up' or set GRANARY_TEMPORAL_ADDRESS`,
    );
  }
  return new Client({ connection, namespace: temporal.namespace });
}
