/** The files of a checkpoint written by format version 1 (from `fixtureState()`), base64. */
export const V1_CHECKPOINT: Record<string, string> = {
  'manifest.json':
    'ewogICJmb3JtYXQiOiAieC1jaGVja3BvaW50IiwKICAiZm9ybWF0VmVyc2lvbiI6IDEsCiAgInN0ZXAi' +
    'OiA3LAogICJjcmVhdGVkQXQiOiAiMjAyNi0xMS0yM1QxNTowNjowOC4zMjFaIiwKICAiY29tcG9uZW50' +
    'cyI6IFsKICAgICJkYXRhIiwKICAgICJtb2RlbCIsCiAgICAib3B0aW1pemVyIiwKICAgICJ0cmFpbmVy' +
    'IgogIF0sCiAgIm1ldHJpY3MiOiB7CiAgICAibG9zcyI6IDAuMjUKICB9LAogICJtZXRhZGF0YSI6IHsK' +
    'ICAgICJmaXh0dXJlIjogImZvcm1hdCB2MSIKICB9LAogICJ2ZXJzaW9ucyI6IHsKICAgICJAeC9jaGVj' +
    'a3BvaW50IjogIjAuMS4wIiwKICAgICJub2RlIjogIjIwLjIwLjIiCiAgfSwKICAic3RhdGVEaWdlc3Qi' +
    'OiAiMTUzMGFhNWVjZTgyNjFhMDUwN2EzNTYyYWY5OGJkYTY3NWJkZjUxZDc2ZDA3NmY2NTI4MTAyOTE1' +
    'YTJmMDdiMCIsCiAgImZpbGVzIjogewogICAgInN0YXRlLnNhZmV0ZW5zb3JzIjogewogICAgICAic2l6' +
    'ZSI6IDUyMywKICAgICAgInNoYTI1NiI6ICJmOWQzZTcxN2FmZmFjMzY1MGI0NzhjZDVlZGI3YWIxMjU1' +
    'YzdlZGFhODY5OTJlODA3MDIwYmU5MjAyYjkxNjkzIgogICAgfSwKICAgICJzdGF0ZS5qc29uIjogewog' +
    'ICAgICAic2l6ZSI6IDQ4OSwKICAgICAgInNoYTI1NiI6ICJiOGNiMTk5MjY3OWI5MjYyOGJmODMzNGQ3' +
    'MDNjZWFiYWVlMzQ4ZTRmMGU2YmY0YmJiYTAyNWE0MzE2NjY4NDM5IgogICAgfQogIH0KfQo=',
  'state.json':
    'eyJ2ZXJzaW9uIjoxLCJ0cmVlIjp7ImRhdGEiOnsiZXBvY2giOjEsImlkcyI6eyIkdGVuc29yIjoiZGF0' +
    'YS9pZHMifSwiaW5kZXgiOjMsInJhdyI6eyIkdGVuc29yIjoiZGF0YS9yYXcifX0sIm1vZGVsIjp7ImNv' +
    'bnYxL2tlcm5lbCI6eyIkdGVuc29yIjoibW9kZWwvY29udjEva2VybmVsIn0sImhlYWQiOnsiYmlhcyI6' +
    'eyIkdGVuc29yIjoibW9kZWwvaGVhZC9iaWFzIn19fSwib3B0aW1pemVyIjp7ImZsYWdzIjp7IiR0ZW5z' +
    'b3IiOiJvcHRpbWl6ZXIvZmxhZ3MifSwibSI6eyJ3Ijp7IiR0ZW5zb3IiOiJvcHRpbWl6ZXIvbS93In19' +
    'LCJzdGVwIjo3fSwidHJhaW5lciI6eyIkb2JqZWN0Ijp7IiRzcGVjaWFsIjp7IiRvYmplY3QiOnsiJHRl' +
    'bnNvciI6Im5vdCBhIHJlZiJ9fSwiYmVzdCI6eyIkbnVtYmVyIjoiLTAifSwibGlzdCI6WzEsbnVsbCx0' +
    'cnVlXSwibm90ZSI6IsO8bsOvY29kZSIsInN0ZXAiOjcsIndvcnN0Ijp7IiRudW1iZXIiOiItSW5maW5p' +
    'dHkifX19fX0K',
  'state.safetensors':
    'wAEAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJmb3JtYXQiOiJ4LWNoZWNrcG9pbnQifSwibW9kZWwvaGVh' +
    'ZC9iaWFzIjp7ImR0eXBlIjoiRjY0Iiwic2hhcGUiOlszXSwiZGF0YV9vZmZzZXRzIjpbMCwyNF19LCJk' +
    'YXRhL2lkcyI6eyJkdHlwZSI6IkkzMiIsInNoYXBlIjpbMl0sImRhdGFfb2Zmc2V0cyI6WzI0LDMyXX0s' +
    'Im1vZGVsL2NvbnYxL2tlcm5lbCI6eyJkdHlwZSI6IkYzMiIsInNoYXBlIjpbMiwyLDEsMl0sImRhdGFf' +
    'b2Zmc2V0cyI6WzMyLDY0XX0sIm9wdGltaXplci9tL3ciOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6WzBd' +
    'LCJkYXRhX29mZnNldHMiOls2NCw2NF19LCJkYXRhL3JhdyI6eyJkdHlwZSI6IlU4Iiwic2hhcGUiOlsx' +
    'XSwiZGF0YV9vZmZzZXRzIjpbNjQsNjVdfSwib3B0aW1pemVyL2ZsYWdzIjp7ImR0eXBlIjoiQk9PTCIs' +
    'InNoYXBlIjpbMl0sImRhdGFfb2Zmc2V0cyI6WzY1LDY3XX19AAAAAAAA+H8AAAAAAADwf1nz+MIfbqUB' +
    '+////////38AAAA/AACgvwAAQEAAAIBAAACgQAAAwEAAAOBAAAAAgP8BAA==',
};
export const V1_DIGEST = '1530aa5ece8261a0507a3562af98bda675bdf51d76d076f6528102915a2f07b0';
