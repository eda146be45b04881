export type {
  CloseInfo,
  EpisodeRecord,
  MetricRow,
  NoticeRecord,
  PictureRecord,
  RunInfo,
  Sink,
} from './types.js';
