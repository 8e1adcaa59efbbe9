/* game-loop — a 60 Hz loop that never waits on the model: 3 NPCs (sessions on one model) run moe_async_start, each
 * frame polls them (moe_async_poll) and restarts finished ones. Before: simple-c (blocking). After: your update(). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, clock_nanosleep */
#include <moe/moe.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef MOE_DEMO_MODEL
#define MOE_DEMO_MODEL "shakespeare-moe-q8_0.gguf"
#endif

#define N_NPC 3
#define FRAME_NS 16666667L /* 1/60 s */
#define FRAME_MS (FRAME_NS / 1e6)
#define LINE_CAP 256

typedef struct npc {
    const char* name;   /* also the prompt: the model continues this character's speech */
    moe_session* session;
    moe_sampler* sampler;
    moe_async* job;     /* the running generation; NULL between speeches */
    char line[LINE_CAP]; /* text since the last newline */
    size_t line_len;
    long long tokens;   /* generated so far, all speeches */
    int lines, speeches;
} npc;

static double ms(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Starts a new speech on a worker thread; returns at once (the prompt is evaluated on the worker too). */
static moe_status npc_start(npc* n) {
    moe_generate_params gp = moe_generate_default_params();
    moe_status st = moe_session_clear(n->session);
    if (st != MOE_OK) return st;
    gp.prompt_text = n->name;
    gp.max_tokens = 40;
    ++n->speeches;
    return moe_async_start(n->session, n->sampler, &gp, &n->job);
}

static void npc_print_line(npc* n, long frame) {
    n->line[n->line_len] = '\0';
    if (n->line_len > 0) printf("[frame %4ld] %s %s\n", frame, n->name, n->line);
    if (n->line_len > 0) ++n->lines;
    n->line_len = 0;
}

/* One frame's work for one NPC: take the new text and token ids (never blocks), print whole lines, restart when the
 * speech has ended. */
static moe_status npc_update(npc* n, long frame) {
    char text[128];
    int32_t ids[64];
    size_t got = 0, i;
    bool done = false;
    moe_status st = moe_async_poll(n->job, text, sizeof text, &got, &done);
    if (st != MOE_OK) return st;
    for (i = 0; i < got; ++i) {
        if (text[i] == '\n' || n->line_len + 1 == LINE_CAP) npc_print_line(n, frame);
        if (text[i] != '\n') n->line[n->line_len++] = text[i];
    }
    do { /* ids are counted as they come: the tally is live, not only per finished speech */
        st = moe_async_poll_tokens(n->job, ids, sizeof ids / sizeof ids[0], &got);
        n->tokens += (long long)got;
    } while (st == MOE_OK && got == sizeof ids / sizeof ids[0]);
    if (st != MOE_OK || !done) return st;
    npc_print_line(n, frame);
    st = moe_async_wait(n->job, NULL); /* done: the worker has finished, so this returns at once */
    moe_async_free(n->job);
    n->job = NULL;
    if (st != MOE_OK) return st;
    return npc_start(n);
}

int main(int argc, char** argv) {
    const char* path = argc > 1 && argv[1][0] ? argv[1] : MOE_DEMO_MODEL; /* "" also means the demo model */
    const double seconds = argc > 2 ? atof(argv[2]) : 5.0;
    static const char* names[N_NPC] = {"ROMEO:", "JULIET:", "MERCUTIO:"};
    npc npcs[N_NPC];
    moe_model* model = NULL;
    moe_session_params sp = moe_session_default_params();
    moe_sampler_params pp = moe_sampler_default_params();
    struct timespec next;
    long slot, frames = 0, missed = 0, dropped = 0;
    const long expected = (long)(seconds * 60.0 + 0.5);
    double worst = 0.0, worst_cpu = 0.0, total = 0.0;
    int i, rc = 1;

    memset(npcs, 0, sizeof npcs);
    if (moe_model_load(path, NULL, &model) != MOE_OK) goto done; /* before the loop: a loading screen */
    sp.n_threads = 1; /* one core per NPC at most: the host thread needs its share */
    for (i = 0; i < N_NPC; ++i) {
        npcs[i].name = names[i];
        pp.seed = 100u + (unsigned)i;
        if (moe_session_create(model, &sp, &npcs[i].session) != MOE_OK) goto done;
        if (moe_sampler_create(&pp, &npcs[i].sampler) != MOE_OK) goto done;
        if (npc_start(&npcs[i]) != MOE_OK) goto done;
    }

    clock_gettime(CLOCK_MONOTONIC, &next);
    for (slot = 0; slot < expected; ++slot) {
        /* ---- the frame's own work: game logic would go here; the NPCs only cost a poll each ---- */
        const double start = ms(CLOCK_MONOTONIC), start_cpu = ms(CLOCK_THREAD_CPUTIME_ID);
        double work, cpu;
        for (i = 0; i < N_NPC; ++i)
            if (npc_update(&npcs[i], slot) != MOE_OK) goto done;
        work = ms(CLOCK_MONOTONIC) - start; /* wall time: includes being preempted by the NPC workers */
        cpu = ms(CLOCK_THREAD_CPUTIME_ID) - start_cpu;
        ++frames;
        total += work;
        if (work > worst) worst = work;
        if (cpu > worst_cpu) worst_cpu = cpu;
        if (work > FRAME_MS) ++missed;

        /* ---- sleep until the next frame is due; a wake-up a whole frame late drops frames instead of bursting ---- */
        next.tv_nsec += FRAME_NS;
        if (next.tv_nsec >= 1000000000L) next.tv_nsec -= 1000000000L, ++next.tv_sec;
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        {
            struct timespec t;
            long long behind;
            clock_gettime(CLOCK_MONOTONIC, &t);
            behind = (long long)(t.tv_sec - next.tv_sec) * 1000000000LL + (t.tv_nsec - next.tv_nsec);
            if (behind > FRAME_NS) { /* skip the frame slots that are already past */
                dropped += (long)(behind / FRAME_NS);
                slot += (long)(behind / FRAME_NS);
                next = t;
            }
        }
    }
    printf("frames: %ld of %ld expected (%.1f s at 60 Hz), missed: %ld (work > %.1f ms), dropped: %ld, "
           "worst frame: %.3f ms (CPU %.3f ms), mean frame: %.3f ms\n",
           frames, expected, seconds, missed, FRAME_MS, dropped, worst, worst_cpu,
           frames > 0 ? total / (double)frames : 0.0);
    for (i = 0; i < N_NPC; ++i)
        printf("npc %-9s %lld tokens, %d lines, %d speeches\n", npcs[i].name, npcs[i].tokens, npcs[i].lines,
               npcs[i].speeches);
    rc = 0;

done:
    if (rc != 0) fprintf(stderr, "error: %s\n", moe_last_error());
    for (i = 0; i < N_NPC; ++i) {
        moe_async_free(npcs[i].job); /* cancels and joins a speech still running (shutdown may wait a token) */
        moe_sampler_free(npcs[i].sampler);
        moe_session_free(npcs[i].session);
    }
    moe_model_free(model);
    return rc;
}
