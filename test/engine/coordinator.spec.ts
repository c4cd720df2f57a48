import { ClaimDecision, Coordinator, LocalCoordinator } from '../../lib/engine/coordinator';
import { JobOptions } from '../../lib/engine/job-options';
import { LearnedLead, MARK_LEAD_MAX_MS, MARK_MS_PER_RUN, StartBatches } from '../../lib/engine/start-batches';
import { VirtualClock } from '../../lib/engine/virtual-clock';
import { taskQueue, testJob } from '../support/engine';

const job = (name: string, options: JobOptions = {}) => testJob(name, options);

describe('LearnedLead', () => {
  it('grows by half again what starts overshot, shrinks slowly while they are on time, and stays within 0..250 ms', () => {
    const lead = new LearnedLead();
    lead.late(4);
    lead.late(10);
    lead.adjust();
    expect(lead.value).toBe(15);
    lead.adjust();
    expect(lead.value).toBeCloseTo(14.85);
    lead.late(1_000);
    lead.adjust();
    expect(lead.value).toBe(250);
    const small = new LearnedLead();
    small.late(0.2);
    small.adjust();
    expect(small.value).toBe(0);
  });

  it('stays within the most it was given', () => {
    const lead = new LearnedLead(MARK_LEAD_MAX_MS);
    lead.late(1_000);
    lead.adjust();
    expect(lead.value).toBe(MARK_LEAD_MAX_MS);
  });
});

describe('LocalCoordinator', () => {
  const setup = () => {
    const armed: Array<[string, number]> = [];
    const learned = new LearnedLead();
    const local: Coordinator = new LocalCoordinator({ armAfter: (j, after) => void armed.push([j.name, after]) }, learned);
    return { armed, learned, local };
  };

  it('wins every tick at once, with no lease', () => {
    const { local } = setup();
    const decisions: ClaimDecision[] = [];
    local.claim(job('a'), 1_000, 1_000, (decision) => decisions.push(decision));
    expect(decisions).toEqual([{ outcome: 'won' }]);
  });

  it('arms a job from now, or from just before its startAt', () => {
    const { local, armed } = setup();
    local.place(job('now'), 500, false);
    local.place(job('later', { startAt: 5_000 }), 500, false);
    local.place(job('past', { startAt: 100 }), 500, false);
    expect(armed).toEqual([
      ['now', 500],
      ['later', 4_999],
      ['past', 500],
    ]);
  });

  it('wakes jobs by the learned lead, and learns from late starts', () => {
    const { local, learned } = setup();
    local.startedLate(job('a'), 20);
    learned.adjust();
    expect(local.lead(job('a'), 1_000, 500)).toBe(30);
    // At most half the time since the previous tick.
    expect(local.lead(job('a'), 1_000, 10)).toBe(10);
  });

  it('keeps a tick prepared ahead that falls in a pause, for the resume to take up', () => {
    const { local } = setup();
    const paused = job('a');
    paused.nextTick = 3_000;
    local.pausedBeforeStart(paused, 2_000, undefined);
    expect(paused.nextTick).toBe(2_000);
  });
});

describe('StartBatches', () => {
  function setup() {
    const clock = new VirtualClock(0);
    const queue = taskQueue(clock);
    const calls: string[] = [];
    const coordinator: Coordinator = {
      start() {},
      stop: () => Promise.resolve(),
      place() {},
      claim() {},
      hold: (j, token, change) => void calls.push(`hold ${j.name} ${token} ${change}`),
      lead: () => 0,
      startedLate: (j, ms) => void calls.push(`late ${j.name} ${ms}`),
      pausedBeforeStart: (j, tick) => void calls.push(`paused ${j.name} ${tick}`),
      handBack: (j, token, work) => void calls.push(`hand back ${j.name} ${token} ${work.from}-${work.tick} #${work.attempt}`),
      owns: () => true,
      begin: (j, token, work, go) => {
        calls.push(`begin ${j.name} ${token} ${work.tick}`);
        answers.push(go);
      },
    };
    /** The answers `begin` waits for, in order. */
    const answers: Array<(started: boolean) => void> = [];
    const state = { running: true, paused: new Set<string>() };
    const starts = new StartBatches(clock, queue, {
      running: () => state.running,
      paused: (j) => state.paused.has(j.name),
      coordinator: () => coordinator,
      dispatch: (j, tick, token) => void calls.push(`run ${j.name} ${tick} ${token} @${clock.now()}`),
    });
    return { clock, starts, calls, state, answers };
  }

  it('starts a run whose time has come at once, telling how late; a run prepared ahead starts at its time, holding its lease meanwhile', async () => {
    const { clock, starts, calls } = setup();
    await clock.advanceAsync(100);
    starts.start(job('late'), 90, undefined, 90, 0);
    starts.start(job('ahead'), 200, 7, 200, 100);
    starts.start(job('beside'), 200, undefined, 200, 100);
    await clock.advanceAsync(100);
    expect(calls).toEqual([
      'late late 10',
      'run late 90 undefined @100',
      'hold ahead 7 1',
      'hold beside undefined 1',
      'run ahead 200 7 @200',
      'hold ahead 7 -1',
      'run beside 200 undefined @200',
      'hold beside undefined -1',
    ]);
  });

  it('starts a run claimed ahead only once its lease is begun: not when the lease went to another, handed back when begun as the scheduler stops', async () => {
    const { clock, starts, calls, state, answers } = setup();
    starts.start(job('begun'), 100, 1, 100, 0, 1, false);
    starts.start(job('taken'), 100, 2, 100, 0, 1, false);
    starts.start(job('stopping'), 100, 3, 100, 0, 1, false);
    starts.start(job('late'), 50, 4, 50, 60, 1, false);
    await clock.advanceAsync(100);
    expect(calls.filter((call) => call.startsWith('begin') || call.startsWith('run'))).toEqual([
      'begin late 4 50',
      'begin begun 1 100',
      'begin taken 2 100',
      'begin stopping 3 100',
    ]);
    calls.length = 0;
    answers[0](true);
    answers[1](true);
    answers[2](false);
    state.running = false;
    answers[3](true);
    expect(calls).toEqual([
      'run late 50 4 @100',
      'hold late 4 -1',
      'run begun 100 1 @100',
      'hold begun 1 -1',
      'hold taken 2 -1',
      'hand back stopping 3 100-100 #1',
      'hold stopping 3 -1',
    ]);
  });

  it('a job woken by its own timer a little ahead of its time runs at once', async () => {
    const { starts, calls } = setup();
    starts.start(job('own'), 5, undefined, 5, 5);
    expect(calls).toEqual(['late own 0', 'run own 5 undefined @0']);
  });

  it('does not start a run whose job was rescheduled or paused meanwhile, and hands back what is prepared when the scheduler stops', async () => {
    const { clock, starts, calls, state } = setup();
    const rescheduled = job('rescheduled');
    starts.start(rescheduled, 100, 1, 100, 0);
    starts.start(job('paused'), 100, 2, 100, 0);
    starts.start(job('stopped'), 200, 3, 200, 0);
    rescheduled.planned = null;
    state.paused.add('paused');
    await clock.advanceAsync(100);
    starts.drop();
    await clock.advanceAsync(100);
    expect(calls.filter((call) => !call.startsWith('hold') || call.endsWith('-1'))).toEqual([
      'hold rescheduled 1 -1',
      'paused paused 100',
      'hold paused 2 -1',
      'hand back stopped 3 200-200 #1',
      'hold stopped 3 -1',
    ]);
  });

  it('learns to mark the leases of runs claimed ahead before their instant, by as long as the answers came after it, and starts the runs at the instant', async () => {
    const { clock, starts, calls, answers } = setup();
    const marks: Array<{ name: string; sentAt: number }> = [];
    const beginAt = (name: string) => marks.find((mark) => mark.name === name)?.sentAt;
    const step = async (name: string, runAt: number, answerMs: number) => {
      starts.start(job(name), runAt, 1, runAt, clock.now(), 1, false);
      // Until the mark goes out, then its answer `answerMs` later.
      while (answers.length === marks.length) await clock.advanceAsync(1);
      marks.push({ name, sentAt: clock.now() });
      await clock.advanceAsync(answerMs);
      answers[answers.length - 1](true);
      await clock.advanceAsync(Math.max(0, runAt - clock.now()) + 1);
    };
    // The first mark goes out at the instant, and is answered 20 ms after it: that run starts then.
    await step('first', 1_000, 20);
    expect(beginAt('first')).toBe(1_000);
    expect(calls).toContain('run first 1000 1 @1020');
    // The next goes out 30 ms ahead (half again what the last overshot), is answered in time, and its run waits for its instant.
    await step('second', 2_000, 20);
    expect(beginAt('second')).toBe(1_970);
    expect(calls).toContain('run second 2000 1 @2000');
    // Answers that keep coming in time let the lead shrink slowly; one very late answer cannot make it more than the most.
    await step('third', 3_000, 500);
    expect(beginAt('third')).toBeGreaterThan(2_970);
    expect(calls).toContain('run third 3000 1 @3471');
    await step('fourth', 4_000, 0);
    expect(beginAt('fourth')).toBe(4_000 - MARK_LEAD_MAX_MS);
    expect(calls).toContain('run fourth 4000 1 @4000');
    // Each run held its lease until it started: once for the plan, once while marked and waiting.
    expect(calls.filter((call) => call.startsWith('hold second'))).toEqual([
      'hold second 1 1',
      'hold second 1 1',
      'hold second 1 -1',
      'hold second 1 1',
      'hold second 1 -1',
      'hold second 1 -1',
    ]);
  });

  it('takes up a batch with many leases to mark earlier by the time that takes; runs of their own instant without leases to mark, at it', async () => {
    const { clock, starts, calls, answers } = setup();
    for (let i = 0; i < 2_000; i++) starts.start(job(`herd${i}`), 1_000, i + 1, 1_000, 0, 1, false);
    for (let i = 0; i < 2_000; i++) starts.start(job(`local${i}`), 2_000, undefined, 2_000, 0);
    await clock.advanceAsync(1_000 - 2_000 * MARK_MS_PER_RUN - 1);
    expect(calls.filter((call) => call.startsWith('begin'))).toEqual([]);
    await clock.advanceAsync(1);
    expect(clock.now()).toBe(990);
    expect(calls.filter((call) => call.startsWith('begin'))).toHaveLength(2_000);
    answers.forEach((go) => go(true));
    await clock.advanceAsync(9);
    expect(calls.filter((call) => call.startsWith('run'))).toEqual([]);
    await clock.advanceAsync(1);
    expect(calls.filter((call) => call.startsWith('run'))).toHaveLength(2_000);
    expect(calls.filter((call) => call.startsWith('run')).every((call) => call.endsWith('@1000'))).toBe(true);
    await clock.advanceAsync(999);
    expect(calls.filter((call) => call.startsWith('run local'))).toEqual([]);
    await clock.advanceAsync(1);
    expect(calls.filter((call) => call.startsWith('run local'))).toHaveLength(2_000);
  });

  /** A StartBatches whose marks go out 30 ms ahead: a first mark was answered 20 ms after its instant. */
  async function markingAhead() {
    const batches = setup();
    const { clock, starts, answers, calls } = batches;
    starts.start(job('first'), 1_000, 1, 1_000, 0, 1, false);
    await clock.advanceAsync(1_020);
    answers[0](true);
    calls.length = 0;
    return batches;
  }

  it('does not start a run marked ahead whose job was rescheduled or paused before its instant', async () => {
    const { clock, starts, calls, state, answers } = await markingAhead();
    const rescheduled = job('rescheduled');
    const refusedJob = job('refused');
    starts.start(rescheduled, 2_000, 2, 2_000, clock.now(), 1, false);
    starts.start(job('paused'), 2_000, 3, 2_000, clock.now(), 1, false);
    starts.start(refusedJob, 2_000, 4, 2_000, clock.now(), 1, false);
    await clock.advanceAsync(1_970 - clock.now());
    expect(calls.filter((call) => call.startsWith('begin'))).toEqual(['begin rescheduled 2 2000', 'begin paused 3 2000', 'begin refused 4 2000']);
    calls.length = 0;
    answers[1](true);
    answers[2](true);
    answers[3](false);
    rescheduled.planned = null;
    state.paused.add('paused');
    await clock.advanceAsync(30);
    expect(calls.filter((call) => !call.startsWith('hold') || call.endsWith('-1'))).toEqual([
      // Marked: the run holds its lease while it waits (the mark's own hold ends).
      'hold rescheduled 2 -1',
      'hold paused 3 -1',
      // Refused: the lease is another's.
      'hold refused 4 -1',
      // At the instant.
      'hold rescheduled 2 -1',
      'paused paused 2000',
      'hold paused 3 -1',
    ]);
    expect(rescheduled.planned).toBeNull();
    expect(refusedJob.planned).toBeNull();
  });

  it('hands back, when the scheduler stops before their instant, the runs marked ahead: those answered at once, those still asked once answered', async () => {
    const { clock, starts, calls, state, answers } = await markingAhead();
    const answered = job('answered');
    starts.start(answered, 2_000, 2, 2_000, clock.now(), 1, false);
    starts.start(job('asked'), 2_000, 3, 2_000, clock.now(), 1, false);
    starts.start(job('unmarked'), 3_000, 4, 3_000, clock.now(), 1, false);
    await clock.advanceAsync(1_975 - clock.now());
    answers[1](true);
    calls.length = 0;
    state.running = false;
    starts.drop();
    expect(calls.filter((call) => !call.startsWith('hold') || call.endsWith('-1'))).toEqual([
      'hand back unmarked 4 3000-3000 #1',
      'hold unmarked 4 -1',
      'hand back answered 2 2000-2000 #1',
      'hold answered 2 -1',
    ]);
    calls.length = 0;
    answers[2](true);
    await clock.advanceAsync(1_000);
    expect(calls).toEqual(['hand back asked 3 2000-2000 #1', 'hold asked 3 -1']);
    expect(answered.planned).toBeNull();
  });
});
