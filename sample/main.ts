import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';

/**
 * The sample application: scheduled jobs on the in-memory store (or on Redis, as one instance of
 * `npm run sample:cluster`). Stop it with Ctrl-C: the job in flight gets its abort signal and is
 * awaited, nothing new starts, and the process exits cleanly.
 */
async function bootstrap() {
  const instance = process.env.INSTANCE;
  const app = await NestFactory.createApplicationContext(AppModule);
  app.enableShutdownHooks(['SIGINT', 'SIGTERM'], { useProcessExit: true });
  await app.init();
  console.log(instance ? `Instance ${instance} running.` : 'Sample running. Press Ctrl-C to stop it gracefully.');
}

void bootstrap();
