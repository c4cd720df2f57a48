import { PostgresJobStore, RedisJobStore, ScheduleModule } from 'nestjs-metronome';

// README: the shared stores of "Several instances, and persistent jobs". Compiled, never called:
// they need PostgreSQL or Redis, and `pg` or `ioredis`, which this application does not install.

/** The store examples. */
export function storeExamples(): void {
  ScheduleModule.forRoot({ store: new PostgresJobStore({ connectionString: process.env.DATABASE_URL }) });
  // or: new RedisJobStore({ url: process.env.REDIS_URL })   (install pg or ioredis)
  // or, on a Redis Cluster: new RedisJobStore({ nodes: ['redis-1:6379', 'redis-2:6379'] }),
  //    or new RedisJobStore({ client: new Cluster(nodes, { enableOfflineQueue: false }) })
  ScheduleModule.forRoot({ store: new RedisJobStore({ url: process.env.REDIS_URL }) });
  ScheduleModule.forRoot({ store: new RedisJobStore({ nodes: ['redis-1:6379', 'redis-2:6379'] }) });
}
