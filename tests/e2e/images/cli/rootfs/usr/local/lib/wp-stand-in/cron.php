<?php
/**
 * wp stand-in: `cron event run|schedule|list`, with WordPress's own cron functions and
 * wp-cli's messages.
 */

namespace WpStandin;

const CRON_FIELDS = ['hook', 'next_run_gmt', 'next_run_relative', 'recurrence'];

/** Every scheduled event (or those due now) as wp-cli lists them. */
function cron_events(bool $due_now = false): array {
	$crons = $due_now ? wp_get_ready_cron_jobs() : _get_cron_array();
	$schedules = wp_get_schedules();
	$events = [];
	foreach ($crons ?: [] as $time => $by_hook) {
		foreach ($by_hook as $hook => $by_sig) {
			foreach ($by_sig as $sig => $data) {
				$events[] = ['hook' => $hook, 'time' => $time, 'sig' => $sig, 'args' => $data['args'],
					'schedule' => $data['schedule'], 'interval' => $data['interval'] ?? null,
					'next_run_gmt' => gmdate('Y-m-d H:i:s', $time),
					'next_run_relative' => interval($time - time()),
					'recurrence' => isset($schedules[$data['schedule']]) ? interval((int) $data['interval']) : 'Non-repeating'];
			}
		}
	}
	return $events;
}

/** "2 hours 5 minutes", "now": the two largest units, as wp-cli says it. */
function interval(int $since): string {
	if ($since <= 0) {
		return 'now';
	}
	$units = [[31536000, 'year'], [2592000, 'month'], [604800, 'week'], [86400, 'day'], [3600, 'hour'],
		[60, 'minute'], [1, 'second']];
	foreach ($units as $i => [$seconds, $name]) {
		$count = intdiv($since, $seconds);
		if ($count > 0) {
			$text = $count . ' ' . $name . ($count === 1 ? '' : 's');
			if (isset($units[$i + 1])) {
				[$seconds2, $name2] = $units[$i + 1];
				$count2 = intdiv($since - $count * $seconds, $seconds2);
				$text .= $count2 > 0 ? ' ' . $count2 . ' ' . $name2 . ($count2 === 1 ? '' : 's') : '';
			}
			return $text;
		}
	}
	return 'now';
}

function cron_event_list(array $args, array $a): int {
	$events = cron_events();
	if (!$events) {
		error('You currently have no scheduled cron events.');
	}
	foreach ($events as &$event) {
		$event['args'] = json_encode($event['args']);
	}
	output($events, $a, CRON_FIELDS);
	return 0;
}

function cron_event_schedule(array $args): int {
	[$hook, $next, $recurrence] = $args + [1 => 'now', 2 => ''];
	$time = ctype_digit($next) ? (int) $next : strtotime($next);
	if (!$time) {
		error("'$next' is not a valid datetime.");
	}
	if ($recurrence !== '') {
		if (!isset(wp_get_schedules()[$recurrence])) {
			error("'$recurrence' is not a valid schedule name for recurrence.");
		}
		$done = wp_schedule_event($time, $recurrence, $hook);
	} else {
		$done = wp_schedule_single_event($time, $hook);
	}
	if ($done === false || is_wp_error($done)) {
		error('Event not scheduled.');
	}
	success(sprintf("Scheduled event with hook '%s' for %s GMT.", $hook, gmdate('Y-m-d H:i:s', $time)));
	return 0;
}

function cron_event_run(array $hooks, array $a): int {
	if (!$hooks && empty($a['due-now']) && empty($a['all'])) {
		error('Please specify one or more cron events, or use --due-now/--all.');
	}
	$due_now = !empty($a['due-now']);
	$events = array_map(fn($e) => (object) $e, cron_events($due_now));
	if (!$events && !$due_now) {
		error('You currently have no scheduled cron events.');
	}
	$exclude = is_string($a['exclude'] ?? null) ? explode(',', $a['exclude']) : [];
	$events = array_filter($events, fn($e) => !in_array($e->hook, $exclude, true));
	foreach ($hooks as $hook) {
		if (!in_array($hook, array_column($events, 'hook'), true)) {
			error("Invalid cron event '$hook'");
		}
	}
	$events = array_filter($events, fn($e) => ($due_now ? time() >= $e->time : true)
		&& (!$hooks ? ($due_now || !empty($a['all'])) : in_array($e->hook, $hooks, true)));
	$executed = 0;
	foreach ($events as $event) {  // what wp-cli (and wp-cron.php) does per event
		$start = microtime(true);
		defined('DOING_CRON') || define('DOING_CRON', true);
		if ($event->schedule !== false) {
			wp_reschedule_event($event->time, $event->schedule, $event->hook, $event->args);
		}
		wp_unschedule_event($event->time, $event->hook, $event->args);
		do_action_ref_array($event->hook, $event->args);
		$executed++;
		line(sprintf("Executed the cron event '%s' in %ss.", $event->hook, round(microtime(true) - $start, 3)));
	}
	success(sprintf($executed === 1 ? 'Executed a total of %d cron event.' : 'Executed a total of %d cron events.', $executed));
	return 0;
}
