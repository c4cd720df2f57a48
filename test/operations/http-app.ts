import { INestApplication, ModuleMetadata } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { AddressInfo } from 'node:net';

/** A Nest application on Express, listening on a free port of 127.0.0.1, and its base URL. Close it after the test. */
export async function listenApp(metadata: ModuleMetadata): Promise<{ app: INestApplication; url: string }> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  const app = moduleRef.createNestApplication(new ExpressAdapter(), { logger: false });
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as { address(): AddressInfo }).address();
  return { app, url: `http://127.0.0.1:${port}` };
}

/** GETs `path`, and returns the status and the body (parsed when JSON). */
export async function get(url: string, path: string): Promise<{ status: number; contentType: string; body: unknown; text: string }> {
  const response = await fetch(url + path);
  const text = await response.text();
  const contentType = response.headers.get('content-type') ?? '';
  return { status: response.status, contentType, body: contentType.includes('json') ? JSON.parse(text) : text, text };
}
