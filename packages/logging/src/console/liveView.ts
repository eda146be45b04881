import { Box, Text, render, type Instance } from 'ink';
import { createElement as h, type ReactElement } from 'react';
import type { ConsoleState } from './consoleState.js';
import { formatValue, groupByCategory, progressBar } from './format.js';

/** Props of {@link LiveView}. */
export interface LiveViewProps {
  state: ConsoleState;
  color: boolean;
  maxPerCategory: number;
  width: number;
}

const LEVEL_COLOR = { info: 'cyan', warn: 'yellow', error: 'red' } as const;

/** The live console view: progress bar with rate and ETA, latest metrics by category, notices. */
export function LiveView({ state, color, maxPerCategory, width }: LiveViewProps): ReactElement {
  const c = (name: string | undefined) => (color ? name : undefined);
  const frac = state.totalSteps ? Math.max(0, state.step) / state.totalSteps : 0;
  const progress = state.progressText(Date.now() / 1000);
  const barWidth = Math.max(5, Math.min(40, width - state.pipeline.length - progress.length - 3));
  const groups = [...groupByCategory(state.latest)];
  const notices = state.notices.slice(-5);
  return h(
    Box,
    { flexDirection: 'column' },
    h(
      Box,
      null,
      h(Text, { bold: true, color: c('magenta') }, `${state.pipeline} `),
      state.totalSteps === undefined
        ? null
        : h(Text, { color: c('green') }, `${progressBar(frac, barWidth)} `),
      h(Text, null, progress),
    ),
    ...groups.map(([cat, list]) =>
      h(
        Box,
        { key: cat, flexDirection: 'row', flexWrap: 'wrap' },
        h(Text, { bold: true, color: c('blue') }, `${cat || '·'}`.padEnd(8)),
        ...list
          .slice(0, maxPerCategory)
          .map(([name, v]) =>
            h(
              Text,
              { key: name },
              ` ${name}=`,
              h(Text, { color: c('white'), bold: true }, formatValue(v)),
            ),
          ),
        list.length > maxPerCategory
          ? h(Text, { dimColor: color }, ` (+${list.length - maxPerCategory} more)`)
          : null,
      ),
    ),
    ...notices.map((n, i) =>
      h(
        Text,
        { key: `n${i}`, color: c(LEVEL_COLOR[n.level]) },
        `${n.level === 'info' ? 'note' : n.level}${n.source === 'logger' ? '' : ` [${n.source}]`}: ${n.message}`,
      ),
    ),
  );
}

/** Mounts the live view on a TTY stream; returns a function that redraws it. */
export function mountLiveView(
  stream: NodeJS.WriteStream,
  props: Omit<LiveViewProps, 'width'>,
  debug = false,
): { redraw: () => void; unmount: () => Promise<void> } {
  const element = () => h(LiveView, { ...props, width: stream.columns || 80 });
  const instance: Instance = render(element(), {
    stdout: stream,
    stderr: stream,
    patchConsole: false,
    exitOnCtrlC: false,
    // The sink mounts the view only on a TTY: redraw in place there even when CI is set.
    interactive: true,
    debug,
  });
  return {
    redraw: () => instance.rerender(element()),
    unmount: async () => {
      instance.rerender(element());
      instance.unmount();
      await instance.waitUntilExit();
    },
  };
}
