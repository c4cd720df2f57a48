import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';

/**
 * The sample application: scheduled jobs on the in-memory store (or on Redis, as one instance of
 * `npm run sample:cluster`), and the dashboard at http://localhost:3000/dashboard (PORT changes
 * the port). Stop it with Ctrl-C: the job in flight gets its abort signal and is awaited, nothing
 * new starts, and the process exits cleanly.
 */
async function bootstrap() {
  const instance = process.env.INSTANCE;
  const port = Number(process.env.PORT ?? 3000);
  const app = await NestFactory.create(AppModule);
  app.enableShutdownHooks(['SIGINT', 'SIGTERM'], { useProcessExit: true });
  await app.listen(port);
  console.log(
    instance
      ? `Instance ${instance} running; dashboard at http://localhost:${port}/dashboard.`
      : `Sample running; dashboard at http://localhost:${port}/dashboard. Press Ctrl-C to stop it gracefully.`,
  );
}

void bootstrap();
