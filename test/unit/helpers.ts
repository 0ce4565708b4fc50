import { expect } from 'chai';

type ErrorClass<E> = new (...args: never[]) => E;

/** The error `fn` throws, checked to be an instance of `type`; fails the test when nothing is thrown. */
export function caught<E extends Error>(fn: () => unknown, type: ErrorClass<E>): E {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(type);
    return error as E;
  }
  return expect.fail(`expected ${type.name} to be thrown`);
}

/** The error `promise` rejects with, checked to be an instance of `type`. */
export async function rejected<E extends Error>(promise: Promise<unknown>, type: ErrorClass<E>): Promise<E> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(type);
    return error as E;
  }
  return expect.fail(`expected a rejection with ${type.name}`);
}
