import {
  assertStateMatches,
  captureSnapshot,
  captureState,
  type Component,
  type ComponentMap,
  isTensorData,
  type State,
  type StateObject,
} from '@x/core';

function isObject(s: State): s is StateObject {
  return s !== null && typeof s === 'object' && !Array.isArray(s) && !isTensorData(s);
}

/** Turns object keys like `block0/conv1/kernel` into nested objects, so a leaf's path is its name. */
export function nestKeys(state: State): State {
  if (Array.isArray(state)) return state.map(nestKeys);
  if (!isObject(state)) return state;
  const out: StateObject = {};
  for (const key of Object.keys(state).sort()) {
    const parts = key.split('/');
    let node = out;
    for (const part of parts.slice(0, -1)) {
      if (!isObject(node[part] ?? null)) node[part] = {};
      node = node[part] as StateObject;
    }
    node[parts[parts.length - 1] as string] = nestKeys(state[key] as State);
  }
  return out;
}

function unnest(flatTemplate: State, nested: State): State {
  if (Array.isArray(flatTemplate))
    return (nested as State[]).map((v, i) => unnest(flatTemplate[i] as State, v));
  if (!isObject(flatTemplate)) return nested;
  const out: StateObject = {};
  for (const key of Object.keys(flatTemplate)) {
    let node: State = nested;
    for (const part of key.split('/')) node = (node as StateObject)[part] as State;
    out[key] = unnest(flatTemplate[key] as State, node);
  }
  return out;
}

/**
 * Presents a component whose state has slash-separated keys (a `VariableSet`, `Adam`, `Ema`)
 * with nested keys instead, so every leaf path names the parameter (`block0/conv1/kernel`) and
 * path-based tools address it unambiguously. Validation errors name the nested leaf path.
 */
export class NestedComponent<S extends State> implements Component<State> {
  readonly inner: Component<S>;

  constructor(inner: Component<S>) {
    this.inner = inner;
  }

  async getState(): Promise<State> {
    return nestKeys(await this.inner.getState());
  }

  async snapshot(): Promise<State> {
    const inner = this.inner;
    return nestKeys(await (inner.snapshot ?? inner.getState).call(inner));
  }

  async setState(state: State): Promise<void> {
    const template = await this.inner.getState();
    assertStateMatches(nestKeys(template), state);
    await this.inner.setState(unnest(template, state) as S);
  }
}

/** A map of components presented as one component (a whole training run's state). */
export class ComponentGroup implements Component<StateObject> {
  readonly components: ComponentMap;

  constructor(components: ComponentMap) {
    this.components = components;
  }

  async getState(): Promise<StateObject> {
    return await captureState(this.components);
  }

  /** Every component's snapshot (or state, for those without one). */
  async snapshot(): Promise<StateObject> {
    return (await captureSnapshot(this.components)).state;
  }

  async setState(state: StateObject): Promise<void> {
    const current = await this.getState();
    assertStateMatches(current, state, { strictArrays: false });
    for (const name of Object.keys(this.components).sort())
      await (this.components[name] as Component).setState(state[name] as State);
  }
}
