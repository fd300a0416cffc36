<?php
/**
 * wp stand-in: `wp search-replace OLD NEW [TABLE...]` as wp-cli's precise mode does it: every
 * row whose column contains OLD (case-sensitive) is read, serialized values are unserialized,
 * replaced recursively (array values and object properties, not keys) and serialized again,
 * and the row is written back by its primary key. Tables without a primary key are skipped.
 * Flags: --all-tables (every table of the database, else the site's prefixed tables),
 * --skip-columns=a,b, --dry-run, --report-changed-only, --precise (always), --format=count.
 * The report is wp-cli's table as it prints it piped (tab-separated, a header line); Type is
 * always PHP (wp-cli says SQL for the columns it rewrites with SQL REPLACE() when not --precise).
 */

namespace WpStandin;

function replace_in($data, string $from, string $to) {
	if (is_string($data)) {
		if (is_serialized($data)) {
			$inner = @unserialize($data);
			if ($inner !== false || $data === 'b:0;') {
				return serialize(replace_in($inner, $from, $to));
			}
		}
		return str_replace($from, $to, $data);
	}
	if (is_array($data)) {
		foreach ($data as $key => $value) {
			$data[$key] = replace_in($value, $from, $to);
		}
		return $data;
	}
	if (is_object($data) && !($data instanceof \__PHP_Incomplete_Class)) {
		foreach (get_object_vars($data) as $key => $value) {
			$data->$key = replace_in($value, $from, $to);
		}
		return $data;
	}
	if ($data instanceof \__PHP_Incomplete_Class) {
		warning('Skipping an uninitialized class, replacements might not be complete.');
	}
	return $data;
}

function search_replace(array $args, array $a): int {
	global $wpdb;
	$from = array_shift($args);
	$to = array_shift($args);
	$format = $a['format'] ?? 'table';
	if (!in_array($format, ['table', 'count'], true)) {
		unsupported("wp search-replace --format=$format");
	}
	if ($from === $to) {
		warning("Replacement value '$from' is identical to search value '$to'. Skipping operation.");
		return 0;
	}
	$dry = !empty($a['dry-run']);
	$skip = is_string($a['skip-columns'] ?? null) ? explode(',', $a['skip-columns']) : [];
	if ($args) {
		$tables = $args;
	} elseif (!empty($a['all-tables'])) {
		$tables = $wpdb->get_col('SHOW TABLES');
	} else {
		$tables = $wpdb->get_col($wpdb->prepare('SHOW TABLES LIKE %s', $wpdb->esc_like($wpdb->prefix) . '%'));
	}
	$total = 0;
	$report = [];
	foreach ($tables as $table) {
		$t = '`' . str_replace('`', '``', $table) . '`';
		$keys = $wpdb->get_col("SHOW KEYS FROM $t WHERE Key_name = 'PRIMARY'", 4);
		if (!$keys) {
			$report[] = "$table\t\tskipped\t";
			continue;
		}
		foreach ($wpdb->get_col("DESCRIBE $t", 0) as $column) {
			if (in_array($column, $skip, true)) {
				continue;
			}
			$c = '`' . str_replace('`', '``', $column) . '`';
			$pk = implode(', ', array_map(fn($k) => '`' . str_replace('`', '``', $k) . '`', $keys));
			$rows = $wpdb->get_results($wpdb->prepare(
				"SELECT $pk, $c AS wp_standin_value FROM $t WHERE $c LIKE BINARY %s",
				'%' . $wpdb->esc_like($from) . '%'), ARRAY_A);
			$changed = 0;
			foreach ($rows as $row) {
				$value = $row['wp_standin_value'];
				$new = replace_in($value, $from, $to);
				if ($new === $value) {
					continue;
				}
				$changed++;
				if (!$dry) {
					$where = array_intersect_key($row, array_flip($keys));
					if ($wpdb->update($table, [$column => $new], $where) === false) {
						error("Could not update $table.$column: {$wpdb->last_error}");
					}
				}
			}
			$total += $changed;
			if ($changed || empty($a['report-changed-only'])) {
				$report[] = "$table\t$column\t$changed\tPHP";
			}
		}
	}
	if ($format === 'count') {
		line((string) $total);
		return 0;
	}
	if (!$dry) {
		wp_cache_flush();  // options and posts read later in this process see the new values
	}
	line("Table\tColumn\tReplacements\tType");  // wp-cli's table when piped
	array_map(__NAMESPACE__ . '\\line', $report);
	$noun = $total === 1 ? 'replacement' : 'replacements';
	success($dry ? "$total $noun to be made." : "Made $total $noun.");
	return 0;
}
