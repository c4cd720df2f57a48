import { ConflictException, HttpException, InternalServerErrorException, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import { errorMessage, JobNotFoundError, SchedulerNotRunningError, StoreUnavailableError } from '../errors';

/**
 * The HTTP answer to an error of a registry call: 404 for a job that does not exist, 409 when the
 * scheduler is not running, 503 when the store cannot be reached, 500 otherwise; the message is the error's.
 */
export function httpError(error: unknown): HttpException {
  if (error instanceof HttpException) return error;
  const message = errorMessage(error);
  if (error instanceof JobNotFoundError) return new NotFoundException(message);
  if (error instanceof SchedulerNotRunningError) return new ConflictException(message);
  if (error instanceof StoreUnavailableError) return new ServiceUnavailableException(message);
  return new InternalServerErrorException(message);
}

/** Runs a registry call, answering its error as {@link httpError} says. */
export async function answer<T>(call: () => T | Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw httpError(error);
  }
}
