import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';

/**
 * The sample application: scheduled jobs on the in-memory store (or on Redis, as one instance of
 * `npm run sample:cluster`), and an HTTP server for operators on PORT (default 3000): the
 * dashboard at /dashboard, `GET /health` and `GET /metrics`. Stop it with Ctrl-C: the job in
 * flight gets its abort signal and is awaited, nothing new starts, and the process exits cleanly.
 */
async function bootstrap() {
  const instance = process.env.INSTANCE;
  const port = Number(process.env.PORT ?? 3000);
  const app = await NestFactory.create(AppModule);
  app.enableShutdownHooks(['SIGINT', 'SIGTERM'], { useProcessExit: true });
  await app.listen(port, '127.0.0.1');
  const base = `http://127.0.0.1:${port}`;
  const operations = `dashboard at ${base}/dashboard, health at ${base}/health, metrics at ${base}/metrics`;
  console.log(instance ? `Instance ${instance} running; ${operations}.` : `Sample running; ${operations}. Press Ctrl-C to stop it gracefully.`);
}

void bootstrap();
