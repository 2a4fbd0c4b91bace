// A tiny observable for classes that React components read with useSyncExternalStore.
import { useSyncExternalStore } from 'react';

export class Observable<S> {
  private listeners = new Set<() => void>();
  constructor(protected state: S) {}

  get snapshot(): S {
    return this.state;
  }

  protected set(patch: Partial<S>) {
    this.state = { ...this.state, ...patch };
    for (const listener of this.listeners) listener();
  }

  subscribe = (listener: () => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };
}

export function useObservable<S>(source: Observable<S>): S {
  return useSyncExternalStore(source.subscribe, () => source.snapshot);
}
