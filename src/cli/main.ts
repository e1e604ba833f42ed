#!/usr/bin/env node
// The lapis command line.
import { Command } from 'commander';
import { runSeeds } from './seeds.js';

const program = new Command();
program.name('lapis').description('A model of the x86 interrupt architecture: local APIC, I/O APIC, INIT/SIPI/SMI/NMI, SMM');

program
  .command('seeds')
  .description('run the seed threads\' scenarios on the model and print a table')
  .option('--trace', 'print each scenario\'s trace')
  .action((opts: { trace?: boolean }) => {
    process.exitCode = runSeeds(opts.trace ?? false, (line) => console.log(line));
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 2;
});
